//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the
//! same entry points the fuzz targets call, so every input that once found a
//! bug, or that seeds the fuzzer, stays a regression test.

use std::fs;
use std::path::PathBuf;

use weirmq_zmtp::fuzzing;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        run(&data);
        count += 1;
    }
    assert!(count > 0, "no corpus in {}", dir.display());
}

#[test]
fn greeting_corpus() {
    replay("greeting", fuzzing::greeting);
}

#[test]
fn frames_corpus() {
    replay("frames", fuzzing::frames);
}

#[test]
fn command_corpus() {
    replay("command", fuzzing::command);
}

#[test]
fn z85_corpus() {
    replay("z85", fuzzing::z85);
}

#[test]
fn null_connection_corpus() {
    replay("null_connection", fuzzing::null_connection);
}

#[test]
fn plain_client_corpus() {
    replay("plain_client", fuzzing::plain_client);
}

#[test]
fn plain_server_corpus() {
    replay("plain_server", fuzzing::plain_server);
}

#[test]
fn curve_client_corpus() {
    replay("curve_client", fuzzing::curve_client);
}

#[test]
fn curve_server_corpus() {
    replay("curve_server", fuzzing::curve_server);
}
