//! v2 restores operations.
