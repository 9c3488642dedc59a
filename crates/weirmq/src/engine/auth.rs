//! Judging a client of a server mechanism (PLAIN, CURVE, or NULL with a
//! ZAP domain): the socket's own authenticator if it has one, else the ZAP
//! handler bound in this process, else libzmq's defaults (which
//! ZMQ_ZAP_ENFORCE_DOMAIN makes strict).

use bytes::Bytes;
use weirmq_zmtp::{AuthDecision, AuthRequest};

use crate::socket::{Answer, Core};

/// A judgement: now, or to come from the ZAP handler (while the
/// connection waits; its handshake timeout still runs).
pub(crate) enum Verdict {
    Now(AuthDecision),
    Later(Answer),
}

/// Judges `request` from `peer` (its address).
pub(crate) fn judge(core: &Core, request: &AuthRequest, peer: &str) -> Verdict {
    let options = &core.options;
    let enforce = options.zap_enforce_domain;
    if let AuthRequest::Curve { public_key } = request {
        if enforce && options.zap_domain.is_empty() {
            // Encryption without authentication: under ZAP_ENFORCE_DOMAIN
            // libzmq asks nobody about a CURVE client without a domain
            // (curve_server.cpp). (An authenticator is refused with it.)
            return Verdict::Now(AuthDecision::Allow {
                user_id: Bytes::from(public_key.to_z85()),
            });
        }
    }
    if let Some(authenticator) = &options.authenticator {
        return Verdict::Now(authenticator(request, peer));
    }
    if core.zap.is_bound() {
        let answer = core
            .zap
            .ask(request, &options.zap_domain, peer, &options.routing_id);
        return Verdict::Later(answer);
    }
    if enforce {
        // Nobody to judge: under ZAP_ENFORCE_DOMAIN libzmq fails the
        // handshake, whatever the mechanism.
        return Verdict::Now(AuthDecision::Deny {
            status: Bytes::from_static(b"400"),
        });
    }
    Verdict::Now(match request {
        // A CURVE client has proved it holds its key, and the connection
        // is encrypted; libzmq without a ZAP handler lets it in. Its user
        // id is its key in Z85.
        AuthRequest::Curve { public_key } => AuthDecision::Allow {
            user_id: Bytes::from(public_key.to_z85()),
        },
        // NULL with a ZAP domain but nobody to ask: go on, as libzmq 4.3
        // does when zap_connect finds no handler (null_mechanism.cpp,
        // without ZMQ_ZAP_ENFORCE_DOMAIN).
        AuthRequest::Null => AuthDecision::Allow {
            user_id: Bytes::new(),
        },
        // PLAIN credentials nobody checks: refuse, as libzmq does without
        // a ZAP handler.
        _ => AuthDecision::Deny {
            status: Bytes::from_static(b"400"),
        },
    })
}
