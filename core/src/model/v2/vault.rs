//! v2 vault bodies.
