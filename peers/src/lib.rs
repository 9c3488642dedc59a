//! The executables of a libzmq 4.3.5 built here from the `zeromq-src`
//! crate's sources (draft API on, CURVE through libsodium): libzmq's own
//! perf tools and the C peers of the draft-option tests.
//!
//! A dependent takes this crate as a build-dependency and calls
//! [`export`] from its build script; its code then reads the paths with
//! `env!`, so the static libzmq never links into the dependent itself.

use std::path::Path;

/// The libzmq version the programs are linked to.
pub const LIBZMQ_VERSION: &str = "4.3.5";

/// The programs, by the environment variable [`export`] sets for each.
pub const PROGRAMS: [(&str, &str); 5] = [
    ("WEIRMQ_LIBZMQ_LOCAL_THR", env!("WEIRMQ_LIBZMQ_LOCAL_THR")),
    ("WEIRMQ_LIBZMQ_REMOTE_THR", env!("WEIRMQ_LIBZMQ_REMOTE_THR")),
    ("WEIRMQ_LIBZMQ_LOCAL_LAT", env!("WEIRMQ_LIBZMQ_LOCAL_LAT")),
    ("WEIRMQ_LIBZMQ_REMOTE_LAT", env!("WEIRMQ_LIBZMQ_REMOTE_LAT")),
    ("WEIRMQ_LIBZMQ_DRAFT_PEER", env!("WEIRMQ_LIBZMQ_DRAFT_PEER")),
];

/// The CURVE keys libzmq's perf tools have built in (Z85; from
/// `perf/local_thr.cpp` and `perf/remote_thr.cpp`), so that a weirmq side
/// can face them: (name, key).
pub const PERF_KEYS: [(&str, &str); 4] = [
    (
        "WEIRMQ_LIBZMQ_PERF_SERVER_SECRET",
        env!("WEIRMQ_LIBZMQ_PERF_SERVER_SECRET"),
    ),
    (
        "WEIRMQ_LIBZMQ_PERF_SERVER_PUBLIC",
        env!("WEIRMQ_LIBZMQ_PERF_SERVER_PUBLIC"),
    ),
    (
        "WEIRMQ_LIBZMQ_PERF_CLIENT_SECRET",
        env!("WEIRMQ_LIBZMQ_PERF_CLIENT_SECRET"),
    ),
    (
        "WEIRMQ_LIBZMQ_PERF_CLIENT_PUBLIC",
        env!("WEIRMQ_LIBZMQ_PERF_CLIENT_PUBLIC"),
    ),
];

/// For a dependent's build script: sets each program's path (and the perf
/// tools' keys) as an environment variable of the dependent's compilation,
/// read there with `env!("WEIRMQ_LIBZMQ_LOCAL_THR")` and so on.
pub fn export() {
    for (name, value) in PROGRAMS.iter().chain(PERF_KEYS.iter()) {
        println!("cargo:rustc-env={name}={value}");
    }
    // The programs are rebuilt when this crate is; a dependent's build
    // script runs again then, as its build-dependency changed.
    for (_, path) in PROGRAMS {
        debug_assert!(Path::new(path).is_file(), "{path} was not built");
    }
}
