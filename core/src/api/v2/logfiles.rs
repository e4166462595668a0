//! v2 logfiles operations.
