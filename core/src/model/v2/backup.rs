//! v2 backup bodies.
