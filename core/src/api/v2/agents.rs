//! v2 agents operations.
