//! v2 cleanups operations.
