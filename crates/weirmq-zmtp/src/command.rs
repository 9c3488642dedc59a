//! Commands: a name and data in one COMMAND frame (RFC 23 and 37).
//!
//! ```text
//! command-body = command-name command-data
//! command-name = OCTET 1*255command-name-char
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ErrorReason, Field, MalformedError, UsageError};
use crate::frame::encode_header;
use crate::metadata::Metadata;
use crate::reader::Reader;

/// Most octets of a PING context (RFC 37: `ping-context = 0*16OCTET`).
pub const MAX_PING_CONTEXT: usize = 16;

/// A decoded command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// READY: the NULL handshake, carrying metadata.
    Ready(Metadata),
    /// ERROR: the peer is closing; a reason of 0..255 octets.
    Error(ErrorReason),
    /// SUBSCRIBE (ZMTP 3.1): a topic prefix.
    Subscribe(Bytes),
    /// CANCEL (ZMTP 3.1): a topic prefix.
    Cancel(Bytes),
    /// PING: a TTL in tenths of a second and a context to echo.
    Ping {
        /// The time-to-live the sender asks for, in tenths of a second (0 = none).
        ttl_deciseconds: u16,
        /// Up to 16 octets to echo in the PONG.
        context: Bytes,
    },
    /// PONG: the echoed PING context.
    Pong {
        /// The context of the PING answered.
        context: Bytes,
    },
    /// Any other command (mechanism commands such as HELLO, or unknown ones,
    /// which libzmq ignores after the handshake).
    Other {
        /// The command name (1..255 octets).
        name: Bytes,
        /// The data after the name.
        data: Bytes,
    },
}

const LIBZMQ_MANGLED_ERROR: &[u8] = b"\x5eRROR";
const READY: &[u8] = b"READY";
const ERROR: &[u8] = b"ERROR";
const SUBSCRIBE: &[u8] = b"SUBSCRIBE";
const CANCEL: &[u8] = b"CANCEL";
const PING: &[u8] = b"PING";
const PONG: &[u8] = b"PONG";

impl Command {
    /// A PING, refusing a context over 16 octets.
    pub fn ping(ttl_deciseconds: u16, context: Bytes) -> Result<Command, UsageError> {
        check_context(&context)?;
        Ok(Command::Ping {
            ttl_deciseconds,
            context,
        })
    }

    /// An ERROR with a reason of at most 255 octets.
    pub fn error(reason: impl Into<Bytes>) -> Result<Command, UsageError> {
        let reason = reason.into();
        if reason.len() > 255 {
            return Err(UsageError::TooLong {
                what: "ERROR reason",
                len: reason.len(),
                max: 255,
            });
        }
        Ok(Command::Error(ErrorReason(reason)))
    }

    /// The command name.
    pub fn name(&self) -> &[u8] {
        match self {
            Command::Ready(_) => READY,
            Command::Error(_) => ERROR,
            Command::Subscribe(_) => SUBSCRIBE,
            Command::Cancel(_) => CANCEL,
            Command::Ping { .. } => PING,
            Command::Pong { .. } => PONG,
            Command::Other { name, .. } => name,
        }
    }

    /// Parses a command frame's body. The data of mechanism commands stays
    /// opaque ([`Command::Other`]); the mechanism parses it.
    pub fn decode(body: Bytes) -> Result<Command, MalformedError> {
        // libzmq 4.3.x spells its ERROR prefix as the C literal "\x5ERROR",
        // which C reads as the octet 0x5E followed by "RROR": its PLAIN
        // server sends that after a ZAP denial. Accept exactly that form.
        if body.starts_with(LIBZMQ_MANGLED_ERROR) {
            let mut r = Reader::new(body.slice(LIBZMQ_MANGLED_ERROR.len()..));
            return Ok(Command::Error(ErrorReason(
                r.short_string(Field::ErrorReason)?,
            )));
        }
        let mut r = Reader::new(body);
        let name = r.short_string(Field::CommandName)?;
        if name.is_empty() {
            return Err(MalformedError::EmptyName(Field::CommandName));
        }
        // Names are compared exactly, as libzmq does (memcmp).
        Ok(match &name[..] {
            READY => Command::Ready(Metadata::decode(r.rest())?),
            ERROR => {
                let reason = r.short_string(Field::ErrorReason)?;
                // Octets after the reason carry nothing; ignore them.
                Command::Error(ErrorReason(reason))
            }
            SUBSCRIBE => Command::Subscribe(r.rest()),
            CANCEL => Command::Cancel(r.rest()),
            PING => {
                let ttl_deciseconds = r.u16(Field::PingTtl)?;
                let context = r.rest();
                // RFC 37: ping-context = 0*16OCTET. libzmq truncates a longer
                // one; we refuse it, the peer is broken or probing.
                if context.len() > MAX_PING_CONTEXT {
                    return Err(MalformedError::PingContextTooLong { len: context.len() });
                }
                Command::Ping {
                    ttl_deciseconds,
                    context,
                }
            }
            PONG => {
                let context = r.rest();
                if context.len() > MAX_PING_CONTEXT {
                    return Err(MalformedError::PingContextTooLong { len: context.len() });
                }
                Command::Pong { context }
            }
            _ => Command::Other {
                name,
                data: r.rest(),
            },
        })
    }

    /// Length of the body [`Command::encode`] writes (without frame header).
    pub fn body_len(&self) -> usize {
        1 + self.name().len()
            + match self {
                Command::Ready(m) => m.encoded_len(),
                Command::Error(reason) => 1 + reason.0.len().min(255),
                Command::Subscribe(t) | Command::Cancel(t) => t.len(),
                Command::Ping { context, .. } => 2 + context.len().min(MAX_PING_CONTEXT),
                Command::Pong { context } => context.len().min(MAX_PING_CONTEXT),
                Command::Other { data, .. } => data.len(),
            }
    }

    /// Writes the whole command frame (header and body).
    ///
    /// Values built through [`Command::ping`] and [`Command::error`] are
    /// always in range; an over-long reason or context in a hand-built value
    /// is cut to its maximum so the output is still valid ZMTP.
    pub fn encode(&self, dst: &mut BytesMut) {
        let len = self.body_len();
        dst.reserve(crate::frame::MAX_HEADER_LEN + len);
        encode_header(dst, false, true, len);
        let name = self.name();
        let name = &name[..name.len().min(255)];
        dst.put_u8(name.len() as u8);
        dst.extend_from_slice(name);
        match self {
            Command::Ready(m) => m.encode(dst),
            Command::Error(reason) => {
                let reason = &reason.0[..reason.0.len().min(255)];
                dst.put_u8(reason.len() as u8);
                dst.extend_from_slice(reason);
            }
            Command::Subscribe(t) | Command::Cancel(t) => dst.extend_from_slice(t),
            Command::Ping {
                ttl_deciseconds,
                context,
            } => {
                dst.put_u16(*ttl_deciseconds);
                dst.extend_from_slice(&context[..context.len().min(MAX_PING_CONTEXT)]);
            }
            Command::Pong { context } => {
                dst.extend_from_slice(&context[..context.len().min(MAX_PING_CONTEXT)])
            }
            Command::Other { data, .. } => dst.extend_from_slice(data),
        }
    }
}

/// Writes a READY command frame carrying `metadata`, without building a
/// [`Command`] (and so without cloning the metadata).
pub fn encode_ready(metadata: &Metadata, dst: &mut BytesMut) {
    let len = 1 + READY.len() + metadata.encoded_len();
    dst.reserve(crate::frame::MAX_HEADER_LEN + len);
    encode_header(dst, false, true, len);
    dst.put_u8(READY.len() as u8);
    dst.extend_from_slice(READY);
    metadata.encode(dst);
}

fn check_context(context: &Bytes) -> Result<(), UsageError> {
    if context.len() > MAX_PING_CONTEXT {
        return Err(UsageError::TooLong {
            what: "PING context",
            len: context.len(),
            max: MAX_PING_CONTEXT,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameDecoder, Limits};
    use crate::metadata::{IDENTITY, SOCKET_TYPE};
    use crate::socket_type::SocketType;
    use hex_literal::hex;
    use proptest::prelude::*;

    /// RFC 37 "Worked Example": the READY a DEALER with an empty identity sends.
    const RFC37_DEALER_READY: [u8; 43] = hex!(
        "04 29"
        "05 5245414459"
        "0b 536f636b65742d54797065 00000006 4445414c4552"
        "08 4964656e74697479 00000000"
    );

    fn decode_frame(bytes: &[u8]) -> Result<Command, MalformedError> {
        let mut buf = BytesMut::from(bytes);
        let frame = FrameDecoder::new(Limits::default())
            .decode(&mut buf)?
            .unwrap();
        assert!(frame.command);
        assert!(buf.is_empty());
        Command::decode(frame.body)
    }

    fn encode(c: &Command) -> Vec<u8> {
        let mut buf = BytesMut::new();
        c.encode(&mut buf);
        buf.to_vec()
    }

    #[test]
    fn rfc37_dealer_ready_vector() {
        let Command::Ready(m) = decode_frame(&RFC37_DEALER_READY).unwrap() else {
            panic!("not READY");
        };
        assert_eq!(m.socket_type(), Ok(Some(SocketType::Dealer)));
        assert_eq!(m.identity(), Ok(None));
        assert_eq!(m.get(IDENTITY).unwrap().len(), 0);

        let mut ours = Metadata::new();
        ours.insert(SOCKET_TYPE, "DEALER").unwrap();
        ours.insert(IDENTITY, "").unwrap();
        assert_eq!(encode(&Command::Ready(ours)), RFC37_DEALER_READY);
    }

    #[test]
    fn rfc37_router_ready_vector_is_28_octets() {
        let mut m = Metadata::new();
        m.insert(SOCKET_TYPE, "ROUTER").unwrap();
        let wire = encode(&Command::Ready(m));
        assert_eq!(&wire[..2], &[0x04, 28]);
    }

    #[test]
    fn libzmq_ping_and_pong_vectors() {
        // libzmq's PING: "\4PING" + TTL in network order, no context.
        assert_eq!(
            decode_frame(&hex!("04 07 0450494e47 0064")).unwrap(),
            Command::Ping {
                ttl_deciseconds: 100,
                context: Bytes::new()
            }
        );
        let pong = Command::Pong {
            context: Bytes::from_static(b"ctx"),
        };
        assert_eq!(encode(&pong), hex!("04 08 04504f4e47 637478"));
    }

    #[test]
    fn subscribe_and_cancel_vectors() {
        assert_eq!(
            decode_frame(&hex!("04 0d 09 535542534352494245 414243")).unwrap(),
            Command::Subscribe(Bytes::from_static(b"ABC"))
        );
        assert_eq!(
            encode(&Command::Cancel(Bytes::from_static(b"A"))),
            hex!("04 08 0643414e43454c 41")
        );
    }

    #[test]
    fn error_vector() {
        assert_eq!(
            decode_frame(&hex!("04 0a 054552524f52 03 343030")).unwrap(),
            Command::Error(ErrorReason(Bytes::from_static(b"400")))
        );
    }

    #[test]
    fn accepts_libzmqs_mangled_error() {
        // Captured from libzmq 4.3.4's PLAIN server after a ZAP denial.
        assert_eq!(
            decode_frame(&hex!("04 09 5e52524f52 03 343030")).unwrap(),
            Command::Error(ErrorReason(Bytes::from_static(b"400")))
        );
    }

    #[test]
    fn unknown_commands_stay_opaque() {
        assert_eq!(
            decode_frame(&hex!("04 08 0548454c4c4f 0102")).unwrap(),
            Command::Other {
                name: Bytes::from_static(b"HELLO"),
                data: Bytes::from_static(&[1, 2])
            }
        );
    }

    #[test]
    fn rejects_truncated_ready_property() {
        // READY whose property value length is cut after two octets.
        let err = decode_frame(&hex!("04 0a 055245414459 01 41 0000")).unwrap_err();
        assert_eq!(err, MalformedError::Truncated(Field::PropertyValueLength));
    }

    #[test]
    fn rejects_ready_property_length_past_the_body() {
        let err = decode_frame(&hex!("04 0d 055245414459 01 41 000000ff 42")).unwrap_err();
        assert_eq!(
            err,
            MalformedError::LengthPastEnd {
                field: Field::PropertyValue,
                claimed: 255,
                available: 1
            }
        );
    }

    #[test]
    fn rejects_oversized_ping_context() {
        let mut body = BytesMut::from(&hex!("0450494e47 0000")[..]);
        body.extend_from_slice(&[0xAB; 17]);
        assert_eq!(
            Command::decode(body.freeze()),
            Err(MalformedError::PingContextTooLong { len: 17 })
        );
        let mut body = BytesMut::from(&hex!("04504f4e47")[..]);
        body.extend_from_slice(&[0xAB; 17]);
        assert_eq!(
            Command::decode(body.freeze()),
            Err(MalformedError::PingContextTooLong { len: 17 })
        );
        assert!(Command::ping(0, Bytes::from(vec![0; 17])).is_err());
    }

    #[test]
    fn rejects_ping_without_ttl() {
        assert_eq!(
            Command::decode(Bytes::from_static(&hex!("0450494e47 00"))),
            Err(MalformedError::Truncated(Field::PingTtl))
        );
    }

    #[test]
    fn rejects_bad_names_and_error_reasons() {
        assert_eq!(
            Command::decode(Bytes::new()),
            Err(MalformedError::Truncated(Field::CommandName))
        );
        assert_eq!(
            Command::decode(Bytes::from_static(&[0])),
            Err(MalformedError::EmptyName(Field::CommandName))
        );
        assert_eq!(
            Command::decode(Bytes::from_static(&hex!("05 5245"))),
            Err(MalformedError::LengthPastEnd {
                field: Field::CommandName,
                claimed: 5,
                available: 2
            })
        );
        assert_eq!(
            Command::decode(Bytes::from_static(&hex!("054552524f52 09 3430"))),
            Err(MalformedError::LengthPastEnd {
                field: Field::ErrorReason,
                claimed: 9,
                available: 2
            })
        );
        assert_eq!(
            Command::decode(Bytes::from_static(&hex!("054552524f52"))),
            Err(MalformedError::Truncated(Field::ErrorReason))
        );
        assert!(Command::error(vec![b'x'; 256]).is_err());
    }

    fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
        prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
    }

    fn arb_command() -> impl Strategy<Value = Command> {
        prop_oneof![
            prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 1..20), arb_bytes(40)),
                0..4
            )
            .prop_map(|props| {
                let mut m = Metadata::new();
                for (n, v) in props {
                    m.insert(n, v).unwrap();
                }
                Command::Ready(m)
            }),
            arb_bytes(256).prop_map(|r| Command::Error(ErrorReason(r))),
            arb_bytes(300).prop_map(Command::Subscribe),
            arb_bytes(300).prop_map(Command::Cancel),
            (any::<u16>(), arb_bytes(17)).prop_map(|(ttl_deciseconds, context)| Command::Ping {
                ttl_deciseconds,
                context
            }),
            arb_bytes(17).prop_map(|context| Command::Pong { context }),
            ("[A-Z]{1,12}", arb_bytes(300)).prop_filter_map("reserved name", |(n, data)| {
                let name = Bytes::from(n);
                let reserved = [READY, ERROR, SUBSCRIBE, CANCEL, PING, PONG];
                (!reserved.contains(&&name[..])).then_some(Command::Other { name, data })
            }),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(cmd in arb_command()) {
            let wire = encode(&cmd);
            prop_assert_eq!(wire.len(), crate::frame::encoded_len(cmd.body_len()));
            prop_assert_eq!(decode_frame(&wire).unwrap(), cmd);
        }
    }
}
