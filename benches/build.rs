//! Hands the benchmarks the paths of libzmq 4.3.5's perf tools and their
//! built-in CURVE keys, as compile-time environment variables (`env!`).

fn main() {
    weirmq_libzmq_peers::export();
}
