//! v2 configuration bodies.
