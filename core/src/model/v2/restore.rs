//! v2 restore bodies.
