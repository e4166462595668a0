//! v2 browse bodies.
