//! v2 activities operations.
