//! Placeholder: the comparison benchmarks against tokio and bare mio.
fn main() {}
