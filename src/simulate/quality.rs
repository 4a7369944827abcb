//! Detection quality (stub).
