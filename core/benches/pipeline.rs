//! Placeholder: the pipeline benchmark.
fn main() {}
