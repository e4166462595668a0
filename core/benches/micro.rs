//! Placeholder: criterion micro-benchmarks.
fn main() {}
