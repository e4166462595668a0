//! v2 settings operations.
