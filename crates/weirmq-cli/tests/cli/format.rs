//! `weirmq recv --format`: text, hex and JSON lines.

use super::*;

/// Messages a test sends with the library (binary frames, which `weirmq
/// send` cannot make from its arguments), pushed from `ep` (bound) to a
/// `weirmq recv` with `flags`; what it printed.
fn received_as(dir: &tempfile::TempDir, flags: &[&str], messages: &[&[&[u8]]]) -> String {
    let ep = ipc(dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = weirmq::Options::default().with_send_timeout(Duration::from_secs(20));
    let push = <weirmq::Push as weirmq::Socket>::with_options(options).unwrap();
    rt.block_on(weirmq::Socket::bind(&push, &ep)).unwrap();
    let count = messages.len().to_string();
    let recv = Running::start(
        weirmq()
            .args(["recv", &ep, "--count", &count, "--timeout", "20"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    rt.block_on(async {
        for frames in messages {
            let m: weirmq::Message = frames
                .iter()
                .map(|f| bytes::Bytes::copy_from_slice(f))
                .collect();
            weirmq::SendSocket::send(&push, m).await.unwrap();
        }
        weirmq::Socket::close(push).await;
    });
    printed(recv.finish(soon()).expect("the receiver ended"))
}

/// Text, an empty frame, octets that are not UTF-8, and what JSON must
/// escape.
const AWKWARD: &[&[&[u8]]] = &[
    &[b"hello"],
    &[b"a", b"", b"\xff\x00"],
    &["quote\" back\\ nl\n tab\t \u{e9}".as_bytes()],
];

#[test]
fn recv_prints_hex_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = received_as(&dir, &["--format", "hex"], AWKWARD);
    let quoted = hex("quote\" back\\ nl\n tab\t \u{e9}".as_bytes());
    assert_eq!(out, format!("68656c6c6f\n61  ff00\n{quoted}\n"));
}

/// Lowercase hex, written out here independently of the CLI's.
fn hex(octets: &[u8]) -> String {
    octets.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn recv_prints_json_lines_that_parse() {
    let dir = tempfile::tempdir().unwrap();
    let out = received_as(&dir, &["--format", "json"], AWKWARD);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let expected = [
        serde_json::json!({"frames": [{"text": "hello"}]}),
        serde_json::json!({"frames": [{"text": "a"}, {"text": ""}, {"hex": "ff00"}]}),
        serde_json::json!({"frames": [{"text": "quote\" back\\ nl\n tab\t \u{e9}"}]}),
    ];
    assert_eq!(lines, expected);
    // And text stays the default.
    let dir = tempfile::tempdir().unwrap();
    let text = received_as(&dir, &[], &AWKWARD[..2]);
    assert_eq!(text, "hello\n[a] [] [\\xff\\x00]\n");
}
