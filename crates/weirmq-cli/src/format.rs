//! How `weirmq recv` prints a message: one line each, as text, hex or JSON.

use bytes::Bytes;
use clap::ValueEnum;
use serde_json::{Value, json};
use weirmq::Message;

/// A received message's line.
#[derive(Clone, Copy, ValueEnum, Debug, Default, PartialEq, Eq)]
pub(crate) enum Format {
    /// A single frame as its text, a multipart message as `[frame] [frame]`;
    /// octets that are not printable ASCII escaped (`\x01`).
    #[default]
    Text,
    /// Each frame as lowercase hex, frames separated by a space (an empty
    /// frame is an empty word).
    Hex,
    /// A JSON object, `{"frames":[...]}`: each frame `{"text":"..."}` when
    /// it is valid UTF-8, otherwise `{"hex":"..."}` (lowercase).
    Json,
}

/// `msg` as one line (no newline) in `format`.
pub(crate) fn line(format: Format, msg: &Message) -> String {
    match format {
        Format::Text => text(msg),
        Format::Hex => msg
            .frames()
            .iter()
            .map(|f| hex(f))
            .collect::<Vec<_>>()
            .join(" "),
        Format::Json => json(msg).to_string(),
    }
}

/// One line per message: a single frame as its text, a multipart message as
/// its frames in brackets. Octets that are not printable ASCII are escaped,
/// so the output is always one line per message.
fn text(msg: &Message) -> String {
    let esc = |f: &Bytes| f.escape_ascii().to_string();
    match msg.frames() {
        [one] => esc(one),
        frames => frames
            .iter()
            .map(|f| format!("[{}]", esc(f)))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Octets as lowercase hex.
fn hex(octets: &[u8]) -> String {
    use std::fmt::Write;
    octets.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `{"frames":[...]}`, each frame `{"text":...}` or, when it is not UTF-8,
/// `{"hex":...}`: lossless, and a reader can tell the two apart.
fn json(msg: &Message) -> Value {
    let frame = |f: &Bytes| match std::str::from_utf8(f) {
        Ok(s) => json!({ "text": s }),
        Err(_) => json!({ "hex": hex(f) }),
    };
    json!({ "frames": msg.frames().iter().map(frame).collect::<Vec<_>>() })
}
