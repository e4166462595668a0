//! v2 activity bodies.
