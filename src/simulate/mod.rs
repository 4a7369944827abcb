//! Campaign simulator: writes labeled traffic in the replay JSONL format. (stub)
