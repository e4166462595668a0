//! v2 agent bodies.
