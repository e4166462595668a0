//! v2 cleanup bodies.
