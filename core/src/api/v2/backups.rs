//! v2 backups operations.
