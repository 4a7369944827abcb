//! Deterministic, seeded, mergeable, bounded sketches: HyperLogLog, count-min, two-slot
//! sliding-window rates. (stub)
