//! v2 vault operations.
