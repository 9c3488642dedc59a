//! ZAP (RFC 27, the ZeroMQ Authentication Protocol): a server socket with no
//! [`Authenticator`](crate::Authenticator) of its own asks the handler that
//! code in this process has bound at [`ZAP_ENDPOINT`] (a [`Rep`](crate::Rep)
//! or [`Router`](crate::Router), as with libzmq).
//!
//! Each question is one short-lived [`Dealer`] connection over inproc: a
//! handshake is rare next to messages, and a socket per question needs no
//! reply routing and holds nothing once answered. The handshake timeout
//! bounds the wait for an answer.

use std::sync::Arc;

use bytes::Bytes;
use weirmq_zmtp::{AuthDecision, AuthRequest};

use crate::prelude::*;
use crate::socket::{Answer, Zap};
use crate::{Dealer, Message, Options};

/// Where ZAP handlers bind (RFC 27).
pub const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// The ZAP version frame.
const VERSION: &[u8] = b"1.0";

/// Whether a ZAP handler is bound at [`ZAP_ENDPOINT`] in this process (and
/// so judges the clients of server sockets without an authenticator).
pub fn zap_handler_bound() -> bool {
    crate::transport::inproc_bound(ZAP_ENDPOINT.trim_start_matches("inproc://"))
}

/// Asks the ZAP handler of this process for a connection's engine.
struct Client;

impl Zap for Client {
    fn is_bound(&self) -> bool {
        zap_handler_bound()
    }

    fn ask(&self, request: &AuthRequest, domain: &Bytes, peer: &str, identity: &Bytes) -> Answer {
        Box::pin(ask(self::request(request, domain, peer, identity)))
    }
}

/// The ZAP client sockets are made with.
pub(crate) fn client() -> Arc<dyn Zap> {
    Arc::new(Client)
}

/// The address frame: libzmq sends a TCP peer's IP address without the
/// port; other transports as they are named.
fn address(peer: &str) -> &str {
    match peer.strip_prefix("tcp://") {
        Some(rest) => rest.rsplit_once(':').map_or(rest, |(host, _)| {
            host.trim_start_matches('[').trim_end_matches(']')
        }),
        None => peer,
    }
}

/// The request frames after the envelope delimiter: version, request id,
/// domain, address, identity, mechanism, credentials.
fn request(request: &AuthRequest, domain: &Bytes, peer: &str, identity: &Bytes) -> Message {
    let mut frames = vec![
        Bytes::new(),
        Bytes::from_static(VERSION),
        Bytes::from_static(b"1"),
        domain.clone(),
        Bytes::copy_from_slice(address(peer).as_bytes()),
        identity.clone(),
    ];
    match request {
        AuthRequest::Plain { username, password } => {
            frames.push(Bytes::from_static(b"PLAIN"));
            frames.push(username.clone());
            frames.push(password.clone());
        }
        AuthRequest::Curve { public_key } => {
            frames.push(Bytes::from_static(b"CURVE"));
            frames.push(Bytes::copy_from_slice(public_key.as_bytes()));
        }
        // NULL (with a ZAP domain): the mechanism and no credentials.
        AuthRequest::Null => frames.push(Bytes::from_static(b"NULL")),
        // A mechanism added later without a ZAP form: the handler would not
        // know it, so ask with no credentials and let it refuse.
        _ => frames.push(Bytes::new()),
    }
    Message::from(frames)
}

/// Reads a reply: "", version, request id, status, status text, user id,
/// metadata. "200" allows; "300", "400" and "500" deny with that status, as
/// libzmq does. A malformed reply is the handler's fault: "500".
fn decision(reply: &Message) -> AuthDecision {
    let internal = || AuthDecision::Deny {
        status: Bytes::from_static(b"500"),
    };
    let [empty, version, id, status, _text, user_id, _metadata] = reply.frames() else {
        return internal();
    };
    if !empty.is_empty() || &version[..] != VERSION || &id[..] != b"1" {
        return internal();
    }
    match &status[..] {
        b"200" => AuthDecision::Allow {
            user_id: user_id.clone(),
        },
        b"300" | b"400" | b"500" => AuthDecision::Deny {
            status: status.clone(),
        },
        _ => internal(),
    }
}

/// Asks the handler at [`ZAP_ENDPOINT`]. Without an answer this waits, and
/// the caller's handshake timeout ends the wait; a failure to ask at all
/// answers "500".
async fn ask(question: Message) -> AuthDecision {
    let unavailable = AuthDecision::Deny {
        status: Bytes::from_static(b"500"),
    };
    let Ok(dealer) =
        Dealer::with_options(Options::default().with_linger(std::time::Duration::ZERO))
    else {
        return unavailable;
    };
    if dealer.connect(ZAP_ENDPOINT).await.is_err() || dealer.send(question).await.is_err() {
        return unavailable;
    }
    match dealer.recv().await {
        Ok(reply) => decision(&reply),
        Err(_) => unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_the_ip_without_the_port() {
        assert_eq!(address("tcp://127.0.0.1:5555"), "127.0.0.1");
        assert_eq!(address("tcp://[::1]:5555"), "::1");
        assert_eq!(address("ipc:///tmp/x"), "ipc:///tmp/x");
    }

    #[test]
    fn a_null_request_names_the_mechanism_and_has_no_credentials() {
        let m = request(
            &AuthRequest::Null,
            &Bytes::from_static(b"dom"),
            "tcp://127.0.0.1:5555",
            &Bytes::from_static(b"me"),
        );
        let frames: Vec<&[u8]> = m.frames().iter().map(|f| &f[..]).collect();
        assert_eq!(
            frames,
            [&b""[..], b"1.0", b"1", b"dom", b"127.0.0.1", b"me", b"NULL"]
        );
    }

    #[test]
    fn replies_decide_as_libzmq_does() {
        let reply = |status: &'static str| {
            Message::from(vec![
                Bytes::new(),
                Bytes::from_static(b"1.0"),
                Bytes::from_static(b"1"),
                Bytes::from_static(status.as_bytes()),
                Bytes::from_static(b"text"),
                Bytes::from_static(b"user"),
                Bytes::new(),
            ])
        };
        assert_eq!(
            decision(&reply("200")),
            AuthDecision::Allow {
                user_id: Bytes::from_static(b"user")
            }
        );
        for status in ["300", "400", "500"] {
            assert_eq!(
                decision(&reply(status)),
                AuthDecision::Deny {
                    status: Bytes::from_static(status.as_bytes())
                }
            );
        }
        for bad in [reply("201"), Message::from("short")] {
            assert_eq!(
                decision(&bad),
                AuthDecision::Deny {
                    status: Bytes::from_static(b"500")
                }
            );
        }
    }
}
