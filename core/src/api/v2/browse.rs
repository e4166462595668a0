//! v2 browse operations.
