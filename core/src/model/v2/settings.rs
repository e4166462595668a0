//! v2 settings bodies.
