//! v2 logfile bodies.
