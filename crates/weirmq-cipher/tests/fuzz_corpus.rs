//! Replays the committed corpus of the differential fuzz target
//! (`fuzz/corpus/cipher/`) through the function the target calls, so every
//! input it keeps stays a regression test.

use std::fs;
use std::path::PathBuf;

#[test]
fn cipher_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/cipher");
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = fs::read(entry.unwrap().path()).unwrap();
        weirmq_cipher::fuzzing::differential(&data);
        count += 1;
    }
    assert!(count > 0, "no corpus in {}", dir.display());
}
