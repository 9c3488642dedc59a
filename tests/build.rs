//! Hands the tests the paths of the libzmq 4.3.5 programs built by
//! `peers/` (`env!("WEIRMQ_LIBZMQ_DRAFT_PEER")` and the others).

fn main() {
    weirmq_libzmq_peers::export();
}
