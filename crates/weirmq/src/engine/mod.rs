//! The engine: one task per connection, driving a sans-IO
//! [`weirmq_zmtp::Connection`] over a byte stream.
//!
//! Data path: outgoing messages are taken from the peer's pipe in batches
//! and encoded into the connection's send buffer, which leaves in vectored
//! writes of up to [`WRITE_BATCH`] octets; incoming octets are read
//! straight into the connection's input buffer (within the socket's memory
//! budget, see `intake`) and decoded into the peer's lane of the socket's
//! incoming queue. When that lane is full the engine stops decoding *and*
//! stops reading, so the sender's TCP window closes: backpressure reaches
//! the remote peer.
//!
//! Every message taken from a pipe is accounted for until its last octet is
//! written: when a connection ends first, the messages the peer got nothing
//! of go back to the front of a kept pipe (a connecting socket's, for the
//! reconnect); the rest are counted as lost.
//!
//! The connection and its stream are a [`Link`] (`wire`), shared with the
//! socket. REQ and REP write through it (`through`): a request or reply
//! has nothing to batch with (the peer answers before another may go), so
//! the sending task encodes and writes it at once when the connection is
//! idle, instead of waking the engine on another thread to do it. That
//! hand-off was most of a round trip's cost over plain TCP. When the write
//! cannot finish, or the engine is busy with the link, the engine is kicked
//! to carry on.
//!
//! They read through it too: a REQ or REP with one peer that waits for a
//! message reads and decodes the stream on its own task, with the engine's
//! own steps (`decode`), so the reply reaches it without the engine's
//! wake-up in between. For as long as it waits, it holds the stream's read
//! wake-up (the engine is not woken for octets the receiver takes); when it
//! stops, it gives the wake-up back. Whatever it cannot finish (a full
//! lane, the end of the stream, a protocol error, a command's answer to
//! write) it hands to the engine, with a kick. It reads only while the
//! engine holds nothing decoded, so messages keep their order.
//!
//! The engine's loop is `driver`'s: a turn of named steps, then a wait.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::Instrument;
use weirmq_zmtp::Connection;

use crate::monitor::MonitorEvent;
use crate::socket::{Core, Peer, Ticket, Unwelcome, lock};
use crate::transport::Stream;

mod auth;
mod backlog;
mod decode;
mod driver;
mod intake;
mod through;
mod unsent;
mod wire;

use backlog::Backlog;
use driver::Driver;
use intake::Intake;
pub(crate) use wire::Link;
use wire::Wire;

/// Octets of encoded output gathered before writing.
const WRITE_BATCH: usize = 128 * 1024;
/// Messages taken from a pipe under one lock.
const POP_BATCH: usize = 256;

/// A deadline that never comes (as tokio's own: about 30 years).
const FAR_FUTURE: Duration = Duration::from_secs(86400 * 365 * 30);

/// Why an engine stopped.
#[derive(Debug)]
pub(crate) enum End {
    /// The socket was closed.
    Closed,
    /// The peer closed the stream.
    Eof,
    /// The protocol failed (bad input, timeout, ERROR from the peer).
    Protocol(weirmq_zmtp::Error),
    /// The stream failed.
    Io(std::io::Error),
    /// The peer subscribed to more topics than a peer may.
    TooManySubscriptions,
    /// The socket did not let the peer in (a ROUTER peer announced a
    /// routing id another peer has; a PAIR has its peer).
    Unwelcome(Unwelcome),
    /// Closed in its handshake to make room for a newer connection.
    Evicted,
    /// A newer connection took over this peer's routing id (ROUTER handover).
    HandedOver,
}

impl End {
    /// Why, for the monitor event that reports it (none for a close).
    fn reason(&self) -> Option<String> {
        Some(match self {
            End::Closed => return None,
            End::Eof => "closed by the peer".to_owned(),
            End::Protocol(e) => e.to_string(),
            End::Io(e) => e.to_string(),
            End::TooManySubscriptions => "too many subscriptions".to_owned(),
            End::Unwelcome(why) => why.reason().to_owned(),
            End::Evicted => "evicted while in the handshake".to_owned(),
            End::HandedOver => "routing id taken over by a newer connection".to_owned(),
        })
    }
}

/// Runs one connection until it ends.
///
/// `kept` carries a connecting socket's peer from one connection to the
/// next: when a connection to the endpoint ends, the messages still queued
/// to it wait in the kept pipe and leave on the next connection (libzmq
/// keeps a connecting socket's pipe in the same way). Accepted connections
/// pass `None`: a peer that dialled in and left is gone.
pub(crate) async fn run<S: Stream>(
    core: Arc<Core>,
    peer_name: String,
    stream: S,
    kept: Option<&mut Option<Arc<Peer>>>,
    ticket: Option<Ticket>,
    stop: watch::Receiver<bool>,
) -> End {
    // Only the mechanism's name: its Debug would show no secret either,
    // but a name is all a log needs.
    let span = tracing::info_span!(
        parent: &core.span,
        "connection",
        peer = %peer_name,
        mechanism = %core.options.mechanism.name(),
    );
    async move {
        let _running = core.engine_started();
        let mut config = core.options.zmtp_config(core.shape.socket_type);
        // libzmq runs no mechanism on inproc, so asks nobody about NULL peers
        // there; and a ZAP handler given a domain would otherwise ask itself
        // about each connection that comes to ask it.
        config.null_authenticate &= !peer_name.starts_with("inproc://");
        let conn = match Connection::new(config, Instant::now()) {
            Ok(c) => c,
            Err(e) => unreachable!("options were validated: {e}"),
        };
        let account = Arc::new(core.budget.open());
        let wire = Wire::new(conn, stream, Intake::new(account.clone()));
        let link = Arc::new(Link::new(wire));
        let kept = kept.filter(|_| core.shape.keeps_pipe_on_reconnect);
        let earlier = kept.as_ref().and_then(|slot| (*slot).clone());
        let mut driver = Driver::new(&core, &peer_name, &link, account, earlier, ticket);
        let end = driver.drive(stop).await;
        let (out, backlog) = driver.into_parts();
        finish(&core, &peer_name, &link, out, backlog, kept, &end).await;
        end
    }
    .instrument(span)
    .await
}

/// After the connection's end: reports it, writes what it can of what was
/// left (within the linger), and accounts for every message it held.
async fn finish<S: Stream>(
    core: &Core,
    peer_name: &str,
    link: &Link<S>,
    mut out: Option<Arc<Peer>>,
    mut backlog: Backlog,
    kept: Option<&mut Option<Arc<Peer>>>,
    end: &End,
) {
    // No sender writes through the link any more (one that took it before
    // this is done when `take` has it).
    if let Some(peer) = out.as_ref() {
        peer.set_link(None);
    }
    let mut wire = link.take();
    let mut lost = drop_decoded(core, &mut wire, &mut backlog);
    if let Some(reason) = end.reason() {
        let peer = peer_name.to_owned();
        core.emit(if wire.conn.peer().is_some() {
            MonitorEvent::Disconnected { peer, reason }
        } else {
            core.handshake_failures.fetch_add(1, Ordering::Relaxed);
            if matches!(end, End::Protocol(weirmq_zmtp::Error::AuthDenied(_))) {
                core.auth_failures.fetch_add(1, Ordering::Relaxed);
            }
            MonitorEvent::HandshakeFailed { peer, reason }
        });
    }
    // Out of routing at once: nothing new may be queued to a connection that
    // is ending. (Without immediate, a kept peer stays routed while it is
    // down, as in libzmq.)
    let keeps = kept.is_some() && !matches!(end, End::Closed);
    if let Some(peer) = out.as_ref() {
        if !keeps || core.options.immediate {
            core.detach_peer(peer);
        }
    }
    flush(core, &mut wire, end).await;
    let Wire {
        mut unsent, stream, ..
    } = wire;
    drop(stream);
    // Messages the peer got nothing of go back in front of a kept pipe, in
    // order, for the next connection. One it got part of is lost: it may be
    // the very message the peer refused (too large, say), and sending it
    // again would only end the next connection too.
    let (untouched, partial) = unsent.take_unwritten();
    lost += partial;
    let departed = out.clone();
    match (out.take(), kept) {
        (Some(peer), Some(slot)) if keeps => {
            lost += peer.out.requeue(untouched) as u64;
            core.count_lost(peer_name, lost);
            *slot = Some(peer);
        }
        (Some(peer), slot) => {
            core.remove_peer(&peer, lost + untouched.len() as u64);
            // Counted once, here: the connector must not count it again.
            if let Some(slot) = slot {
                *slot = None;
            }
            let subscriptions = std::mem::take(&mut *lock(&peer.subscriptions));
            core.role.peer_gone(&peer, subscriptions).await;
        }
        (None, _) => core.count_lost(peer_name, lost + untouched.len() as u64),
    }
    // A notice of its departure (ROUTER_NOTIFY) comes after everything it
    // sent, in its lane, which exists once it has arrived.
    if let (Some(peer), Some(lane)) = (departed.as_ref(), backlog.lane.as_ref()) {
        if let Some(notice) = core.role.departed(peer) {
            lane.push_notice(notice).await;
        }
    }
}

/// What was decoded but not handed on when the connection ended (with a
/// message a reading-through receiver found no room for): data is lost
/// (waiting for room here would let peers that come and go pile up
/// messages), and goes back to the budget with what the connection held;
/// an XPUB's pending subscription change is undone by its role, so that
/// its departure cancels exactly what reached the union of subscriptions
/// (or, in manual mode, the application). Returns the messages lost.
fn drop_decoded<S>(core: &Core, wire: &mut Wire<S>, backlog: &mut Backlog) -> u64 {
    if let Some(entry) = wire.reading.held.take() {
        backlog.push(entry);
    }
    // What waits in the peer's lane stays counted until the application
    // takes it.
    wire.intake.end(backlog.bytes);
    if let Some(held) = backlog.held.take() {
        if held.changed {
            // Asking the opposite undoes it; a set has room for what it
            // held a moment ago.
            let _ = core
                .role
                .peer_asked(&held.peer, !held.subscribe, &held.topic);
        }
    }
    backlog.data.len() as u64
}

/// Best effort: writes what is left (the rest of the messages, then what
/// the connection still holds, such as an ERROR command after a protocol
/// failure, in stream order) before the stream is dropped. Not after the
/// peer closed or the stream failed: the octets would only feign delivery.
async fn flush<S: Stream>(core: &Core, wire: &mut Wire<S>, end: &End) {
    wire.unsent.fill(&mut wire.conn);
    let writable = !matches!(end, End::Eof | End::Io(_));
    let flush = async {
        while writable && wire.unsent.len > 0 {
            if std::future::poll_fn(|cx| wire.poll_write(cx))
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = wire.stream.shutdown_write();
    };
    // A close already spent its linger in `drive`; other endings get one.
    let budget = match end {
        End::Closed => Duration::from_millis(100).min(core.options.linger),
        _ => core.options.linger,
    };
    let _ = tokio::time::timeout(budget, flush).await;
}
