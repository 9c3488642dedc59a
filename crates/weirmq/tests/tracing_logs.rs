//! What weirmq writes to `tracing`: the socket's and each connection's
//! span (type, peer, mechanism), events for handshake failures and
//! disconnects, nothing per message above TRACE, and never a secret: a
//! CURVE secret key or a PLAIN password does not appear in the captured
//! output, even at TRACE.
//!
//! One test in this binary: it installs the process's global subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tracing_subscriber::fmt::MakeWriter;
use weirmq::prelude::*;
use weirmq::{AuthDecision, AuthRequest, Keypair, Options, Pull, Push};

use common::within;

/// Everything the subscriber writes, kept.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

const PASSWORD: &str = "pl41n-s3cret-passw0rd";

fn plain_judge(request: &AuthRequest, _domain: &str) -> AuthDecision {
    match request {
        AuthRequest::Plain { username, password } if password == PASSWORD.as_bytes() => {
            AuthDecision::Allow {
                user_id: username.clone(),
            }
        }
        _ => AuthDecision::Deny {
            status: Bytes::from_static(b"400"),
        },
    }
}

/// A PULL with `server` options and a PUSH with `client`'s: one message
/// through if the handshake succeeds, and whether it did.
async fn exchange(server: Options, client: Options, messages: usize) -> bool {
    let pull = Pull::with_options(server.with_handshake_timeout(Duration::from_secs(5))).unwrap();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    // A client whose handshake fails has no peer: its send times out.
    let push = Push::with_options(client.with_send_timeout(Duration::from_secs(2))).unwrap();
    push.connect(&endpoint).await.unwrap();
    for i in 0..messages {
        if push
            .send(format!("message {i}").into_bytes())
            .await
            .is_err()
        {
            return false;
        }
    }
    let mut through = true;
    for _ in 0..messages {
        match tokio::time::timeout(Duration::from_secs(2), pull.recv()).await {
            Ok(got) => drop(got.unwrap()),
            Err(_) => through = false,
        }
    }
    push.close().await;
    pull.close().await;
    through
}

fn levels(text: &str) -> usize {
    text.lines()
        .filter(|l| {
            [" DEBUG ", " INFO ", " WARN ", " ERROR "]
                .iter()
                .any(|lvl| l.contains(lvl))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_events_are_logged_and_no_secret_ever_is() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    // CURVE: a good client, and one with the wrong server key.
    let (server, client) = (Keypair::generate(), Keypair::generate());
    let curve_server = || Options::default().with_curve_server(server.clone());
    let good = Options::default().with_curve_client(server.public, client.clone());
    assert!(within(exchange(curve_server(), good, 1)).await);
    let wrong = Options::default().with_curve_client(Keypair::generate().public, client.clone());
    assert!(!within(exchange(curve_server(), wrong, 1)).await);
    // PLAIN: the right password, and a wrong one.
    let plain_server = || {
        Options::default()
            .with_plain_server()
            .with_authenticator(plain_judge)
    };
    let right = Options::default().with_plain_client("admin", PASSWORD);
    assert!(within(exchange(plain_server(), right, 1)).await);
    let bad = Options::default().with_plain_client("admin", "not-the-password");
    assert!(!within(exchange(plain_server(), bad, 1)).await);
    // Many messages: nothing more above TRACE than for one.
    let before = levels(&captured.text());
    assert!(within(exchange(Options::default(), Options::default(), 1)).await);
    let one = levels(&captured.text()) - before;
    let before = levels(&captured.text());
    assert!(within(exchange(Options::default(), Options::default(), 2_000)).await);
    let many = levels(&captured.text()) - before;
    assert!(
        many <= one + 2,
        "{one} lines above TRACE for 1 message, {many} for 2,000"
    );

    let text = captured.text();
    // What should be there is.
    for expected in [
        "socket",
        "connection",
        "mechanism=CURVE",
        "mechanism=PLAIN",
        "handshake failed",
    ] {
        assert!(
            text.contains(expected),
            "no {expected:?} in the log:\n{text}"
        );
    }
    // What must never be is not: the secret keys (Z85 and hex) and the
    // password, however written.
    let hex = |b: &[u8]| b.iter().map(|o| format!("{o:02x}")).collect::<String>();
    let secrets = [
        server.secret.to_z85().as_str().to_owned(),
        client.secret.to_z85().as_str().to_owned(),
        hex(server.secret.as_bytes()),
        hex(client.secret.as_bytes()),
        format!("{:?}", &server.secret.as_bytes()[..8]),
        PASSWORD.to_owned(),
        hex(PASSWORD.as_bytes()),
    ];
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret is in the log");
    }
    // A password in PLAIN's frames would show with its length in front.
    assert!(
        !text.contains("pl41n"),
        "part of the password is in the log"
    );
}
