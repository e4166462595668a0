//! v2 configurations operations.
