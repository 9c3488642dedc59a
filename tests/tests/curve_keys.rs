//! CURVE key management against libzmq 4.3 clients: a certificate store
//! (a directory of czmq public certificates) as the server's allow-list,
//! reloaded when the directory changes, and a server keypair rotated while
//! the server runs.

use std::time::Duration;

use weirmq::cert::{CertStore, RotatingKeypair, write_certificate};
use weirmq::prelude::*;
use weirmq::{Keypair, Options, Pull};
use weirmq_interop::*;

/// A libzmq CURVE client PUSH with `client`'s keys, for a server whose
/// public key is `server`, connected to `endpoint`.
fn client(
    ctx: &zmq::Context,
    endpoint: &str,
    server: &weirmq::PublicKey,
    client: &Keypair,
) -> zmq::Socket {
    let push = zmq_socket(ctx, zmq::PUSH);
    push.set_curve_serverkey(server.as_bytes()).unwrap();
    push.set_curve_publickey(client.public.as_bytes()).unwrap();
    push.set_curve_secretkey(client.secret.as_bytes()).unwrap();
    // A refused client would otherwise retry for ever and keep its
    // message: once is enough here.
    push.set_sndtimeo(200).unwrap();
    push.connect(endpoint).unwrap();
    push
}

/// Sends `text` from a libzmq client (on a blocking thread), and whether
/// the weirmq server got it within a second.
async fn gets(server: &Pull, push: zmq::Socket, text: &'static str) -> (bool, zmq::Socket) {
    let push = tokio::task::spawn_blocking(move || {
        // Queued by libzmq until its handshake is done (or never, if the
        // server refuses it).
        let _ = push.send(text, 0);
        push
    })
    .await
    .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let msg = server.recv().await.unwrap();
            if msg.frames()[0] == text {
                return;
            }
        }
    })
    .await
    .is_ok();
    (got, push)
}

/// Waits until the store has reloaded to `n` keys.
async fn holds(store: &CertStore, n: usize) {
    within(async {
        while store.len() != n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cert_store_is_the_allow_list_and_follows_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (Keypair::generate(), Keypair::generate());
    write_certificate(&dir.path().join("alice.key"), &alice).unwrap();
    // Not a certificate: skipped, the others still count.
    std::fs::write(dir.path().join("README"), "not a key").unwrap();
    let store = CertStore::open(dir.path()).unwrap();
    assert_eq!(
        store.len(),
        1,
        "alice's public and secret files are one key"
    );
    let _watching = store.watch(Duration::from_millis(20));

    let server_keys = Keypair::generate();
    let options = Options::default()
        .with_curve_server(server_keys.clone())
        .with_authenticator(store.authenticator());
    let server = Pull::with_options(options).unwrap();
    let endpoint = server.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();

    let (got, alice_first) = gets(
        &server,
        client(&ctx, &endpoint, &server_keys.public, &alice),
        "alice 1",
    )
    .await;
    assert!(got, "a key in the store is let in");
    let (got, _) = gets(
        &server,
        client(&ctx, &endpoint, &server_keys.public, &bob),
        "bob 1",
    )
    .await;
    assert!(!got, "a key not in the store is refused");
    assert!(server.stats().auth_failures >= 1);

    // Bob's certificate is added: his next connection is let in.
    write_certificate(&dir.path().join("bob.key"), &bob).unwrap();
    holds(&store, 2).await;
    let (got, _) = gets(
        &server,
        client(&ctx, &endpoint, &server_keys.public, &bob),
        "bob 2",
    )
    .await;
    assert!(
        got,
        "a key added to the directory is let in without a restart"
    );

    // Alice's is removed: a new connection of hers is refused, the one
    // already up goes on.
    std::fs::remove_file(dir.path().join("alice.key")).unwrap();
    std::fs::remove_file(dir.path().join("alice.key_secret")).unwrap();
    holds(&store, 1).await;
    let (got, _) = gets(
        &server,
        client(&ctx, &endpoint, &server_keys.public, &alice),
        "alice 2",
    )
    .await;
    assert!(
        !got,
        "a key removed from the directory is refused on its next handshake"
    );
    let (got, _) = gets(&server, alice_first, "alice 3").await;
    assert!(got, "a connection already up goes on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_server_key_serves_new_connections_and_the_old_ones_go_on() {
    let (old, new) = (Keypair::generate(), Keypair::generate());
    let keys = RotatingKeypair::new(old.clone());
    let server =
        Pull::with_options(Options::default().with_curve_server_rotating(keys.clone())).unwrap();
    let endpoint = server.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let me = Keypair::generate();

    let (got, before) = gets(&server, client(&ctx, &endpoint, &old.public, &me), "before").await;
    assert!(got);
    assert_eq!(keys.rotate(new.clone()), old.public);
    assert_eq!(keys.public(), new.public);

    let (got, _) = gets(&server, before, "still").await;
    assert!(got, "a connection made with the old key goes on");
    let (got, _) = gets(
        &server,
        client(&ctx, &endpoint, &old.public, &me),
        "old key",
    )
    .await;
    assert!(!got, "a new connection with the old server key fails");
    let (got, _) = gets(
        &server,
        client(&ctx, &endpoint, &new.public, &me),
        "new key",
    )
    .await;
    assert!(got, "a new connection with the new server key is served");
}
