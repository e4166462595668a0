//! v2 events operations.
