//! A socket's monitor events as lines: `--monitor` on `send` and `recv`
//! (on standard error, beside the messages), and `weirmq monitor`, which
//! opens a socket only to watch it (on standard output).

use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};
use weirmq::{
    Dealer, Error, Monitor, MonitorEvent, Pair, Pub, Pull, Push, RecvSocket, Rep, Req, Router,
    Socket, Sub, XPub, XSub,
};

/// How an event is printed.
#[derive(Clone, Copy, ValueEnum, Debug, Default, PartialEq, Eq)]
pub(crate) enum EventFormat {
    /// `EVENT SUBJECT[: REASON]`, e.g. `accepted 127.0.0.1:50312`,
    /// `disconnected tcp://127.0.0.1:5555: connection reset`; `missed N`
    /// when N events so far found the monitor full.
    #[default]
    Text,
    /// One JSON object a line: `{"event":"accepted","peer":"..."}`, with
    /// `endpoint`, `peer`, `reason`, `socket_type`, `delay_ms`, `count`,
    /// `messages`, `bytes`, `waited_ms` as the event has them; `{"event":"missed","count":N}` for missed ones.
    Json,
}

/// `--monitor` of `send` and `recv`.
#[derive(Args, Debug, Default)]
pub(crate) struct MonitorFlag {
    /// Print the socket's monitor events on standard error, one a line:
    /// `--monitor` (text) or `--monitor=json`.
    #[arg(
        id = "monitor",
        long = "monitor",
        value_name = "FORMAT",
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text"
    )]
    format: Option<EventFormat>,
}

/// The event's name, as both formats print it.
fn name(event: &MonitorEvent) -> &'static str {
    match event {
        MonitorEvent::Listening { .. } => "listening",
        MonitorEvent::Accepted { .. } => "accepted",
        MonitorEvent::ConnectionRejected { .. } => "connection-rejected",
        MonitorEvent::Connected { .. } => "connected",
        MonitorEvent::ConnectRetried { .. } => "connect-retried",
        MonitorEvent::HandshakeSucceeded { .. } => "handshake-succeeded",
        MonitorEvent::HandshakeFailed { .. } => "handshake-failed",
        MonitorEvent::MessageDropped { .. } => "message-dropped",
        MonitorEvent::MessagesLost { .. } => "messages-lost",
        MonitorEvent::Disconnected { .. } => "disconnected",
        MonitorEvent::QueueHigh { .. } => "queue-high",
        MonitorEvent::QueueLow { .. } => "queue-low",
        MonitorEvent::IncomingQueueHigh { .. } => "incoming-queue-high",
        MonitorEvent::IncomingQueueLow { .. } => "incoming-queue-low",
        MonitorEvent::SendBlocked { .. } => "send-blocked",
        _ => "other",
    }
}

/// The peer, messages and octets of a queue alert (out or in, high or low).
fn depth(event: &MonitorEvent) -> Option<(&str, usize, usize)> {
    match event {
        MonitorEvent::QueueHigh {
            peer,
            messages,
            bytes,
        }
        | MonitorEvent::QueueLow {
            peer,
            messages,
            bytes,
        }
        | MonitorEvent::IncomingQueueHigh {
            peer,
            messages,
            bytes,
        }
        | MonitorEvent::IncomingQueueLow {
            peer,
            messages,
            bytes,
        } => Some((peer, *messages, *bytes)),
        _ => None,
    }
}

/// `event` as one line of text.
fn text(event: &MonitorEvent) -> String {
    let name = name(event);
    if let Some((peer, messages, bytes)) = depth(event) {
        return format!("{name} {peer}: {messages} messages, {bytes} octets");
    }
    match event {
        MonitorEvent::Listening { endpoint } | MonitorEvent::Connected { endpoint } => {
            format!("{name} {endpoint}")
        }
        MonitorEvent::Accepted { peer } | MonitorEvent::MessageDropped { peer } => {
            format!("{name} {peer}")
        }
        MonitorEvent::ConnectionRejected { peer, reason }
        | MonitorEvent::HandshakeFailed { peer, reason }
        | MonitorEvent::Disconnected { peer, reason } => format!("{name} {peer}: {reason}"),
        MonitorEvent::ConnectRetried { endpoint, delay } => {
            format!("{name} {endpoint} in {delay:?}")
        }
        MonitorEvent::HandshakeSucceeded {
            peer,
            socket_type: Some(t),
        } => format!("{name} {peer} ({t})"),
        MonitorEvent::HandshakeSucceeded { peer, .. } => format!("{name} {peer}"),
        MonitorEvent::MessagesLost { peer, count } => format!("{name} {peer}: {count}"),
        MonitorEvent::SendBlocked { waited } => format!("{name} for {waited:?}"),
        other => format!("{name} {other:?}"),
    }
}

/// `event` as a JSON object.
fn object(event: &MonitorEvent) -> Value {
    let name = name(event);
    if let Some((peer, messages, bytes)) = depth(event) {
        return json!({ "event": name, "peer": peer, "messages": messages, "bytes": bytes });
    }
    match event {
        MonitorEvent::Listening { endpoint } | MonitorEvent::Connected { endpoint } => {
            json!({ "event": name, "endpoint": endpoint })
        }
        MonitorEvent::Accepted { peer } | MonitorEvent::MessageDropped { peer } => {
            json!({ "event": name, "peer": peer })
        }
        MonitorEvent::ConnectionRejected { peer, reason }
        | MonitorEvent::HandshakeFailed { peer, reason }
        | MonitorEvent::Disconnected { peer, reason } => {
            json!({ "event": name, "peer": peer, "reason": reason })
        }
        MonitorEvent::ConnectRetried { endpoint, delay } => {
            let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            json!({ "event": name, "endpoint": endpoint, "delay_ms": ms })
        }
        MonitorEvent::HandshakeSucceeded { peer, socket_type } => {
            let t = socket_type.map(|t| t.as_str());
            json!({ "event": name, "peer": peer, "socket_type": t })
        }
        MonitorEvent::MessagesLost { peer, count } => {
            json!({ "event": name, "peer": peer, "count": count })
        }
        MonitorEvent::SendBlocked { waited } => {
            let ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
            json!({ "event": name, "waited_ms": ms })
        }
        other => json!({ "event": name, "debug": format!("{other:?}") }),
    }
}

/// `event` as one line (no newline) in `format`.
fn line(format: EventFormat, event: &MonitorEvent) -> String {
    match format {
        EventFormat::Text => text(event),
        EventFormat::Json => object(event).to_string(),
    }
}

/// The line telling that the monitor had no room for events: `total` of
/// them so far.
fn missed_line(format: EventFormat, total: u64) -> String {
    match format {
        EventFormat::Text => format!("missed {total}"),
        EventFormat::Json => json!({ "event": "missed", "count": total }).to_string(),
    }
}

/// Reads a monitor, turning each event into lines: the event's, and a
/// `missed` line first whenever events were missed since the last one.
struct Lines {
    monitor: Monitor,
    format: EventFormat,
    missed: u64,
}

impl Lines {
    /// The next event's lines; `None` once the socket is gone.
    async fn next(&mut self) -> Option<Vec<String>> {
        let event = self.monitor.recv().await?;
        let mut lines = Vec::with_capacity(2);
        let missed = self.monitor.missed();
        if missed > self.missed {
            self.missed = missed;
            lines.push(missed_line(self.format, missed));
        }
        lines.push(line(self.format, &event));
        Some(lines)
    }
}

/// The printing of a socket's events on standard error, for `--monitor`.
pub(crate) struct Watch(Option<JoinHandle<()>>);

impl Watch {
    /// Starts printing `s`'s events, if the flag asks for it. Started
    /// before `s` binds or connects, so that no event is missed.
    pub(crate) fn start<S: Socket>(s: &S, flag: &MonitorFlag) -> Watch {
        Watch(flag.format.map(|format| {
            let mut lines = Lines {
                monitor: s.monitor(),
                format,
                missed: 0,
            };
            tokio::spawn(async move {
                while let Some(batch) = lines.next().await {
                    for l in batch {
                        eprintln!("{l}");
                    }
                }
            })
        }))
    }

    /// After the socket is closed: lets the last events (a disconnect, say)
    /// be printed, up to a moment, then stops.
    pub(crate) async fn finish(self) {
        if let Some(mut task) = self.0 {
            if tokio::time::timeout(Duration::from_millis(200), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

/// Socket types `weirmq monitor` can open.
#[derive(Clone, Copy, ValueEnum, Debug)]
enum AnyType {
    Push,
    Pull,
    Pub,
    Sub,
    Xpub,
    Xsub,
    Pair,
    Dealer,
    Router,
    Req,
    Rep,
}

/// `weirmq monitor`'s flags.
#[derive(Args)]
pub(crate) struct MonitorArgs {
    /// Socket type. Those that receive (pull, sub, xpub, xsub, pair, dealer,
    /// router) take and discard what arrives; the others (push, pub, req,
    /// rep) send and receive nothing. A sub subscribes to nothing.
    #[arg(long = "type", short = 't', value_enum)]
    socket_type: AnyType,
    #[command(flatten)]
    common: crate::Common,
    /// Stop after this many events; with --timeout, fail if they did not
    /// all come in time.
    #[arg(long)]
    count: Option<u64>,
    /// How each event is printed.
    #[arg(long, value_enum, default_value = "text")]
    format: EventFormat,
}

/// `weirmq monitor`: opens the socket asked for and prints its events.
pub(crate) async fn monitor(args: MonitorArgs) -> Result<(), Error> {
    let o = crate::options(&args.common)?;
    // The one line per type.
    match args.socket_type {
        AnyType::Push => watch(Push::with_options(o)?, &args, hold).await,
        AnyType::Pub => watch(Pub::with_options(o)?, &args, hold).await,
        AnyType::Req => watch(Req::with_options(o)?, &args, hold).await,
        AnyType::Rep => watch(Rep::with_options(o)?, &args, hold).await,
        AnyType::Pull => watch(Pull::with_options(o)?, &args, discard).await,
        AnyType::Sub => watch(Sub::with_options(o)?, &args, discard).await,
        AnyType::Xpub => watch(XPub::with_options(o)?, &args, discard).await,
        AnyType::Xsub => watch(XSub::with_options(o)?, &args, discard).await,
        AnyType::Pair => watch(Pair::with_options(o)?, &args, discard).await,
        AnyType::Dealer => watch(Dealer::with_options(o)?, &args, discard).await,
        AnyType::Router => watch(Router::with_options(o)?, &args, discard).await,
    }
}

/// Beside the monitor, for the types that neither send nor receive here
/// (REQ must send first; REP would have to answer): nothing, ever.
async fn hold<S>(_: &S) -> Result<(), Error> {
    std::future::pending().await
}

/// Beside the monitor, for the types that receive: takes every message and
/// drops it, so that peers are not held up by a full queue.
async fn discard<S: RecvSocket>(s: &S) -> Result<(), Error> {
    loop {
        match s.recv().await {
            // The receive timeout (from --timeout) is not an end here: the
            // events' deadline is.
            Ok(_) | Err(Error::Timeout(_)) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Attaches `s` and prints its events on standard output, up to the
/// count or until the timeout, with `beside` running meanwhile.
async fn watch<S: Socket>(
    s: S,
    args: &MonitorArgs,
    beside: impl AsyncFn(&S) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut lines = Lines {
        monitor: s.monitor(),
        format: args.format,
        missed: 0,
    };
    crate::attach(&s, &args.common).await?;
    let limit = crate::seconds("--timeout", args.common.timeout)?;
    let expiry = async {
        match limit {
            Some(limit) => tokio::time::sleep_until(Instant::now() + limit).await,
            None => std::future::pending().await,
        }
    };
    let wanted = args.count.unwrap_or(u64::MAX);
    let mut seen = 0;
    {
        let beside = beside(&s);
        tokio::pin!(beside, expiry);
        while seen < wanted {
            tokio::select! {
                batch = lines.next() => match batch {
                    Some(batch) => {
                        seen += 1;
                        for l in batch {
                            println!("{l}");
                        }
                    }
                    None => break,
                },
                // `beside` only ever ends with an error.
                ended = &mut beside => {
                    ended?;
                    break;
                }
                () = &mut expiry => match args.count {
                    Some(count) => {
                        let what = format!("waiting for {count} monitor events ({seen} seen)");
                        return Err(crate::gave_up(what, limit.unwrap_or_default()));
                    }
                    None => break,
                },
            }
        }
    }
    s.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoming_queue_alerts_print_in_both_formats() {
        let high = MonitorEvent::IncomingQueueHigh {
            peer: "127.0.0.1:5000".into(),
            messages: 800,
            bytes: 12_800,
        };
        assert_eq!(
            line(EventFormat::Text, &high),
            "incoming-queue-high 127.0.0.1:5000: 800 messages, 12800 octets"
        );
        let low = MonitorEvent::IncomingQueueLow {
            peer: "127.0.0.1:5000".into(),
            messages: 400,
            bytes: 6_400,
        };
        let got: Value = serde_json::from_str(&line(EventFormat::Json, &low)).unwrap();
        let want = json!({
            "event": "incoming-queue-low",
            "peer": "127.0.0.1:5000",
            "messages": 400,
            "bytes": 6400,
        });
        assert_eq!(got, want);
    }
}
