//! v2 event bodies.
