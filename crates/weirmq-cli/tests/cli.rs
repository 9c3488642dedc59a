//! The `weirmq` binary, end to end: a receiver and a sender process.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn weirmq() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weirmq"))
}

fn ipc(dir: &tempfile::TempDir) -> String {
    format!("ipc://{}", dir.path().join("cli.sock").display())
}

#[test]
fn push_to_pull_with_multipart_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let recv = weirmq()
        .args([
            "recv",
            "-t",
            "pull",
            "--bind",
            &ep,
            "--count",
            "4",
            "--timeout",
            "20",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let status = weirmq()
        .args([
            "send",
            "-t",
            "push",
            &ep,
            "hello",
            "a|b|",
            "--separator",
            "|",
            "--timeout",
            "20",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let mut from_stdin = weirmq()
        .args(["send", &ep, "--timeout", "20"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    from_stdin
        .stdin
        .take()
        .unwrap()
        .write_all(b"line one\nbin\x01ary\n")
        .unwrap();
    assert!(from_stdin.wait().unwrap().success());
    let out = recv.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, "hello\n[a] [b] []\nline one\nbin\\x01ary\n");
}

#[test]
fn pub_to_sub_with_a_subscription_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let mut recv = weirmq()
        .args([
            "recv",
            "-t",
            "sub",
            "--bind",
            &ep,
            "--subscribe",
            "news",
            "--count",
            "2",
        ])
        .args(["--timeout", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // A publisher does not wait for subscribers (the slow joiner): publish
    // in rounds until the subscriber has had its two messages.
    for _ in 0..100 {
        if recv.try_wait().unwrap().is_some() {
            break;
        }
        let status = weirmq()
            .args([
                "send", "-t", "pub", &ep, "weather", "news: up", "--count", "5000",
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let out = recv.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "news: up\nnews: up\n"
    );
}

#[test]
fn errors_are_reported_and_help_exists() {
    let out = weirmq().args(["send", "udp://x:1", "m"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("invalid endpoint"), "{err}");
    for sub in ["send", "recv", "monitor"] {
        let out = weirmq().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8(out.stdout).unwrap().contains("--count"));
    }
    let out = weirmq()
        .args([
            "recv",
            "-t",
            "pull",
            "tcp://127.0.0.1:1",
            "--timeout",
            "0.2",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr).unwrap().contains("timed out"));
}

#[test]
fn keygen_prints_or_writes_a_keypair() {
    let out = weirmq().arg("keygen").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        line.split('"').nth(1).unwrap().to_owned()
    };
    let public = weirmq::PublicKey::from_z85(&field("public-key")).unwrap();
    let secret = weirmq::SecretKey::from_z85(&field("secret-key")).unwrap();
    assert_eq!(secret.public_key(), public);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server");
    let out = weirmq().arg("keygen").arg(&path).output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let pair = weirmq::cert::read_keypair(&weirmq::cert::secret_path(&path)).unwrap();
    assert_eq!(printed.trim(), pair.public.to_z85());
    assert_eq!(weirmq::cert::read_public_key(&path).unwrap(), pair.public);
    // A second keygen must not overwrite the secret.
    assert!(
        !weirmq()
            .arg("keygen")
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );
}

/// A `recv` with `extra` flags bound at `ep`, expecting `count` messages.
fn receiver(ep: &str, count: &str, timeout: &str, extra: &[&str]) -> std::process::Child {
    weirmq()
        .args(["recv", "--bind", ep, "--count", count, "--timeout", timeout])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn keygen(dir: &tempfile::TempDir, name: &str) -> (std::path::PathBuf, weirmq::Keypair) {
    let path = dir.path().join(name);
    assert!(
        weirmq()
            .arg("keygen")
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );
    let pair = weirmq::cert::read_keypair(&weirmq::cert::secret_path(&path)).unwrap();
    (path, pair)
}

#[test]
fn curve_between_two_processes_with_an_allowed_key() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let (server, _) = keygen(&dir, "server");
    let (client, client_pair) = keygen(&dir, "client");
    let server_secret = weirmq::cert::secret_path(&server);
    let client_secret = weirmq::cert::secret_path(&client);
    let recv = receiver(
        &ep,
        "1",
        "20",
        &[
            "--curve-server",
            server_secret.to_str().unwrap(),
            "--curve-allow",
            &client_pair.public.to_z85(),
        ],
    );
    std::thread::sleep(Duration::from_millis(200));
    // An unknown client (a fresh keypair) is refused: its message never
    // arrives, and its send times out.
    let stranger = weirmq()
        .args(["send", &ep, "from a stranger", "--timeout", "1"])
        .args(["--curve-serverkey", server.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!stranger.status.success());
    let known = weirmq()
        .args(["send", &ep, "sealed", "--timeout", "20"])
        .args(["--curve-serverkey", server.to_str().unwrap()])
        .args(["--curve-keyfile", client_secret.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(known.success());
    let out = recv.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "sealed\n");
}

#[test]
fn plain_between_two_processes() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let recv = receiver(
        &ep,
        "1",
        "20",
        &["--plain-server", "--plain-user", "admin:s3cret"],
    );
    std::thread::sleep(Duration::from_millis(200));
    let wrong = weirmq()
        .args(["send", &ep, "guessing", "--timeout", "1"])
        .args(["--plain-username", "admin"])
        .env("WEIRMQ_PLAIN_PASSWORD", "guess")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let right = weirmq()
        .args(["send", &ep, "let me in", "--timeout", "20"])
        .args(["--plain-username", "admin"])
        .env("WEIRMQ_PLAIN_PASSWORD", "s3cret")
        .status()
        .unwrap();
    assert!(right.success());
    let out = recv.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "let me in\n");

    // Without the password variable, a clear error.
    let missing = weirmq()
        .args(["send", &ep, "x", "--plain-username", "admin"])
        .env_remove("WEIRMQ_PLAIN_PASSWORD")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("WEIRMQ_PLAIN_PASSWORD"));
}

/// A child process started here: killed (by its pid) and reaped if it is
/// dropped still running, so a test that fails leaves nothing behind.
struct Running(Option<std::process::Child>);

impl Running {
    fn start(command: &mut Command) -> Running {
        Running(Some(command.spawn().unwrap()))
    }

    fn id(&self) -> u32 {
        self.0.as_ref().expect("running").id()
    }

    /// Waits until `deadline`; what it printed, or `None` if it was still
    /// running then (it is killed).
    fn finish(mut self, deadline: std::time::Instant) -> Option<std::process::Output> {
        let mut child = self.0.take().expect("running");
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() >= deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(child.wait_with_output().unwrap())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a process that ended printed on stdout; a failure shows its
/// status and stderr.
fn printed(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `weirmq perf LOCAL...` (binding) and `weirmq perf REMOTE...` against it
/// at `ep`, each a subcommand and its flags, `size` and `count` placed
/// after the endpoint; what each printed, or `None` for one still running
/// `limit` after the start.
fn perf_pair_within(
    ep: &str,
    local: &[&str],
    remote: &[&str],
    size_count: [&str; 2],
    limit: Duration,
) -> (Option<String>, Option<String>) {
    let start = |args: &[&str]| {
        Running::start(
            weirmq()
                .arg("perf")
                .arg(args[0])
                .arg(ep)
                .args(size_count)
                .args(&args[1..])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
    };
    let deadline = std::time::Instant::now() + limit;
    let local = start(local);
    let remote = start(remote);
    // Both waited for before either is judged.
    let (remote, local) = (remote.finish(deadline), local.finish(deadline));
    (local.map(printed), remote.map(printed))
}

/// [`perf_pair_within`] over ipc, both sides expected to finish.
fn perf_pair(local: &[&str], remote: &[&str], size: &str, count: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (local, remote) = perf_pair_within(
        &ipc(&dir),
        local,
        remote,
        [size, count],
        Duration::from_secs(60),
    );
    (
        local.expect("local side ended"),
        remote.expect("remote side ended"),
    )
}

#[test]
fn perf_throughput_between_two_processes() {
    let (local, remote) = perf_pair(&["local-thr"], &["remote-thr"], "100", "5000");
    assert!(local.contains("message size: 100 [B]"), "{local}");
    assert!(local.contains("message count: 5000"), "{local}");
    assert!(local.contains("[msg/s]"), "{local}");
    assert_eq!(remote, "");
}

#[test]
fn perf_latency_between_two_processes() {
    let (local, remote) = perf_pair(&["local-lat"], &["remote-lat"], "16", "300");
    assert_eq!(local, "");
    assert!(remote.contains("roundtrip count: 300"), "{remote}");
    assert!(remote.contains("p99 round trip:"), "{remote}");
}

#[test]
fn perf_over_curve_and_not_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = keygen(&dir, "server");
    let secret = weirmq::cert::secret_path(&server);
    let (secret, public) = (secret.to_str().unwrap(), server.to_str().unwrap());
    let (local, _) = perf_pair(
        &["local-thr", "--curve-server", secret],
        &["remote-thr", "--curve-serverkey", public],
        "100",
        "2000",
    );
    assert!(local.contains("message count: 2000"), "{local}");
    let (local, remote) = perf_pair(
        &["local-lat", "--curve-server", secret],
        &["remote-lat", "--curve-serverkey", public],
        "16",
        "100",
    );
    assert_eq!(local, "");
    assert!(remote.contains("roundtrip count: 100"), "{remote}");
    // A sender without the server's key never gets a message through.
    let (local, _) = perf_pair_within(
        &ipc(&dir),
        &["local-thr", "--curve-server", secret],
        &["remote-thr"],
        ["100", "10"],
        Duration::from_secs(2),
    );
    assert_eq!(local, None);
}

/// The threads of the process `pid`, from `/proc`.
fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line["Threads:".len()..].trim().parse().unwrap()
}

#[test]
fn perf_runs_on_one_thread_when_asked() {
    for (flags, one_thread) in [(&["--current-thread"][..], true), (&[][..], false)] {
        let dir = tempfile::tempdir().unwrap();
        let ep = ipc(&dir);
        let perf = |side: &str| {
            let mut command = weirmq();
            command
                .args(["perf", side, &ep, "16", "100"])
                .args(flags)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            command
        };
        let local = Running::start(&mut perf("local-thr"));
        // Bound: the runtime is built by now.
        let socket = dir.path().join("cli.sock");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !socket.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let n = threads(local.id());
        let remote = Running::start(&mut perf("remote-thr"));
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let (remote, local) = (remote.finish(deadline), local.finish(deadline));
        printed(remote.expect("remote-thr ended"));
        printed(local.expect("local-thr ended"));
        assert_eq!(n == 1, one_thread, "{flags:?}: {n} threads");
    }
}

/// A Z85 key is 40 characters of an alphabet that includes '-': one key in
/// 85 begins with it, and must still be read as the option's value (this
/// test's neighbour failed now and then until it was).
#[test]
fn a_key_that_begins_with_a_hyphen_is_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let (server, _) = keygen(&dir, "server");
    let hyphenated = std::iter::repeat_with(weirmq::Keypair::generate)
        .map(|k| k.public.to_z85())
        .find(|z| z.starts_with('-'))
        .unwrap();
    let server_secret = weirmq::cert::secret_path(&server);
    let out = receiver(
        &ep,
        "1",
        "1",
        &[
            "--curve-server",
            server_secret.to_str().unwrap(),
            "--curve-allow",
            &hyphenated,
        ],
    )
    .wait_with_output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("timed out"), "{stderr}");
    let out = weirmq()
        .args([
            "send",
            &ep,
            "x",
            "--timeout",
            "1",
            "--curve-serverkey",
            &hyphenated,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("timed out"), "{stderr}");
}

#[test]
fn proxy_forwards_and_terminates_on_command() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| format!("ipc://{}", dir.path().join(name).display());
    let (front, back, control) = (at("front"), at("back"), at("control"));
    let proxy = Running::start(
        weirmq()
            .args(["proxy", "--frontend", &format!("pull:{front}")])
            .args(["--backend", &format!("push:@{back}")])
            .args(["--control", &format!("pair:{control}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    std::thread::sleep(Duration::from_millis(300));
    let recv = weirmq()
        .args([
            "recv",
            "-t",
            "pull",
            &back,
            "--count",
            "3",
            "--timeout",
            "20",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let sent = weirmq()
        .args([
            "send",
            "-t",
            "push",
            &front,
            "one",
            "two",
            "three",
            "--timeout",
            "20",
        ])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(
        printed(recv.wait_with_output().unwrap()),
        "one\ntwo\nthree\n"
    );
    let told = weirmq()
        .args([
            "send",
            "-t",
            "pair",
            &control,
            "TERMINATE",
            "--timeout",
            "20",
        ])
        .status()
        .unwrap();
    assert!(told.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let out = proxy
        .finish(deadline)
        .expect("the proxy ended on TERMINATE");
    printed(out);
}

#[test]
fn proxy_refuses_a_pair_of_types_that_cannot_be_proxied() {
    let out = weirmq()
        .args(["proxy", "--frontend", "push:tcp://127.0.0.1:*"])
        .args(["--backend", "pull:tcp://127.0.0.1:*"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no proxy between a push frontend and a pull backend"),
        "{err}"
    );
}

/// Waits (up to 20 s) until a bound ipc endpoint's socket file exists: the
/// process binding it is past its bind.
fn bound(dir: &tempfile::TempDir, name: &str) {
    let path = dir.path().join(name);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(std::time::Instant::now() < deadline, "{name} never bound");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Twenty seconds from now: the bound of a run expected to end.
fn soon() -> std::time::Instant {
    std::time::Instant::now() + Duration::from_secs(20)
}

/// What a process that ended printed on stderr.
fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON objects among `text`'s lines.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn bad_flags_are_refused_clearly() {
    let cases: [(&[&str], &str); 9] = [
        (
            &["recv", "--format", "xml", "ipc:///x"],
            "invalid value 'xml'",
        ),
        (&["recv", "--format", "xml", "ipc:///x"], "text, hex, json"),
        (
            &["recv", "--wait-peers", "1", "ipc:///x"],
            "unexpected argument '--wait-peers'",
        ),
        (
            &["send", "--delay", "-1", "ipc:///x", "m"],
            "--delay -1: not a duration",
        ),
        (
            &["send", "--routing-id", "", "ipc:///x", "m"],
            "--routing-id \"\": 1 to 255 octets",
        ),
        (
            &["recv", "--monitor=xml", "ipc:///x"],
            "invalid value 'xml'",
        ),
        (&["monitor", "ipc:///x"], "--type <SOCKET_TYPE>"),
        (
            &["send", "--queue-alert", "80", "ipc:///x", "m"],
            "--queue-alert \"80\": two percentages, HIGH,LOW",
        ),
        (
            &["send", "--queue-alert", "50,80", "ipc:///x", "m"],
            "the low mark below it",
        ),
    ];
    for (args, expected) in cases {
        let out = weirmq().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

// The tests of each newer concept in a file of their own (one test binary,
// still: `cargo test --test cli`).
#[path = "cli/format.rs"]
mod format;
#[path = "cli/monitor.rs"]
mod monitor;
#[path = "cli/wait.rs"]
mod wait;

#[test]
fn proxy_serves_its_metrics_for_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| format!("ipc://{}", dir.path().join(name).display());
    let (front, back) = (at("mfront"), at("mback"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _proxy = Running::start(
        weirmq()
            .args(["proxy", "--frontend", &format!("pull:{front}")])
            .args(["--backend", &format!("push:{back}")])
            .args(["--metrics", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    std::thread::sleep(Duration::from_millis(300));
    let recv = weirmq()
        .args([
            "recv",
            "-t",
            "pull",
            &back,
            "--count",
            "3",
            "--timeout",
            "20",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let sent = weirmq()
        .args([
            "send",
            "-t",
            "push",
            &front,
            "a",
            "b",
            "c",
            "--timeout",
            "20",
        ])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(printed(recv.wait_with_output().unwrap()), "a\nb\nc\n");
    let scrape = || {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
        let mut body = String::new();
        stream.read_to_string(&mut body).unwrap();
        body
    };
    let body = scrape();
    for line in [
        r#"weirmq_proxy_messages_total{proxy="proxy",direction="frontend_to_backend"} 3"#,
        r#"weirmq_received_messages_total{socket="frontend",type="PULL"} 3"#,
        r#"weirmq_sent_messages_total{socket="backend",type="PUSH"} 3"#,
    ] {
        assert!(body.lines().any(|l| l == line), "no {line:?} in:\n{body}");
    }
}

#[test]
fn curve_allow_takes_a_directory_of_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let (server, _) = keygen(&dir, "server");
    // The client's public certificate goes into the directory; its secret
    // file stays outside.
    let (client, _) = keygen(&dir, "client");
    std::fs::copy(&client, certs.path().join("client.key")).unwrap();
    let recv = receiver(
        &ep,
        "1",
        "20",
        &[
            "--curve-server",
            weirmq::cert::secret_path(&server).to_str().unwrap(),
            "--curve-allow",
            certs.path().to_str().unwrap(),
        ],
    );
    std::thread::sleep(Duration::from_millis(200));
    let stranger = weirmq()
        .args(["send", &ep, "from a stranger", "--timeout", "1"])
        .args(["--curve-serverkey", server.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !stranger.status.success(),
        "a key not in the directory got in"
    );
    let known = weirmq()
        .args(["send", &ep, "from the directory", "--timeout", "20"])
        .args(["--curve-serverkey", server.to_str().unwrap()])
        .args([
            "--curve-keyfile",
            weirmq::cert::secret_path(&client).to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(known.success());
    assert_eq!(
        printed(recv.wait_with_output().unwrap()),
        "from the directory\n"
    );
}
