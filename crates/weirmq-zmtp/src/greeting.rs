//! The 64-octet greeting: signature, version, mechanism (RFC 23 and 37).
//!
//! ```text
//! greeting = signature version mechanism as-server filler
//! signature = %xFF padding %x7F      ; octets 0..10
//! version = %x03 %x01                ; octets 10, 11
//! mechanism = 20mechanism-char       ; octets 12..32
//! as-server = %x00 | %x01            ; octet 32
//! filler = 31%x00                    ; octets 33..64
//! ```
//!
//! libzmq sends its greeting in stages: the signature first, the major version
//! only after it has read ours, the rest after it has read our major version.
//! [`GreetingDecoder`] therefore validates each part as soon as it arrives and
//! never waits for 64 octets to reject a peer.

use std::fmt;

use crate::error::{Error, MalformedError, ProtocolError};
pub use crate::mechanism_name::{MECHANISM_LEN, MechanismName};

/// Length of the whole greeting.
pub const GREETING_LEN: usize = 64;
/// Length of the signature, which libzmq sends first on its own.
pub const SIGNATURE_LEN: usize = 10;

const MAJOR_POS: usize = 10;
const MINOR_POS: usize = 11;
const MECHANISM_POS: usize = 12;
const AS_SERVER_POS: usize = 32;

/// The ZMTP revision two peers speak after the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Revision {
    /// ZMTP 3.0 (RFC 23): subscriptions travel as data frames, no PING/PONG.
    V3_0,
    /// ZMTP 3.1 (RFC 37): SUBSCRIBE/CANCEL and PING/PONG commands.
    V3_1,
}

impl Revision {
    /// The revision to speak with a peer that sent `major.minor`: the lower of
    /// theirs and ours (3.1). Refuses ZMTP 1.0 and 2.0 (majors 0..=2): with
    /// security configured that was a downgrade bypass (CVE-2014-9721), and
    /// without it weirmq has no reason to speak a protocol from 2012.
    pub fn negotiate(major: u8, minor: u8) -> Result<Revision, ProtocolError> {
        match (major, minor) {
            (0..=2, _) => Err(ProtocolError::UnsupportedVersion { major }),
            (3, 0) => Ok(Revision::V3_0),
            // RFC 23: "A peer MUST accept higher protocol versions as valid";
            // it then speaks its own, lower, version.
            _ => Ok(Revision::V3_1),
        }
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Revision::V3_0 => "ZMTP/3.0",
            Revision::V3_1 => "ZMTP/3.1",
        })
    }
}

impl MechanismName {
    /// Validates the 20-octet mechanism field of a greeting.
    ///
    /// RFC 23: `mechanism-char = "A"-"Z" | DIGIT | "-" | "_" | "." | "+" | %x0`;
    /// the name is NUL padded, so no character may follow a NUL.
    pub fn from_wire(raw: [u8; MECHANISM_LEN]) -> Result<MechanismName, MalformedError> {
        let len = raw.iter().position(|&b| b == 0).unwrap_or(MECHANISM_LEN);
        let (name, padding) = raw.split_at(len);
        let valid_char =
            |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_.+".contains(b);
        if name.is_empty() || !name.iter().all(valid_char) || padding.iter().any(|&b| b != 0) {
            return Err(MalformedError::BadMechanismName);
        }
        Ok(MechanismName(raw))
    }
}

/// A greeting as sent or received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting {
    /// Major version (3 for ZMTP 3.x).
    pub major: u8,
    /// Minor version (0 or 1).
    pub minor: u8,
    /// The security mechanism.
    pub mechanism: MechanismName,
    /// The as-server octet. libzmq always sends 0 and never reads it: roles
    /// come from local configuration, so weirmq does not read it either.
    pub as_server: bool,
}

impl Greeting {
    /// Our greeting: ZMTP 3.1 with the given mechanism.
    pub fn new(mechanism: MechanismName, as_server: bool) -> Greeting {
        Greeting {
            major: 3,
            minor: 1,
            mechanism,
            as_server,
        }
    }

    /// The 64 octets on the wire.
    pub fn encode(&self) -> [u8; GREETING_LEN] {
        let mut out = [0u8; GREETING_LEN];
        out[0] = 0xFF;
        // RFC 23 leaves the padding free. libzmq writes its identity length + 1
        // as a big-endian u64 here (ZMTP 1.0 peers read it as a frame length),
        // so an empty identity gives 1 in the last padding octet; do the same.
        out[8] = 0x01;
        out[9] = 0x7F;
        out[MAJOR_POS] = self.major;
        out[MINOR_POS] = self.minor;
        out[MECHANISM_POS..AS_SERVER_POS].copy_from_slice(&self.mechanism.0);
        out[AS_SERVER_POS] = u8::from(self.as_server);
        out
    }

    /// The revision to speak with the sender of this greeting.
    pub fn revision(&self) -> Result<Revision, ProtocolError> {
        Revision::negotiate(self.major, self.minor)
    }
}

/// Incremental greeting parser: feed it bytes as they arrive.
#[derive(Debug, Clone)]
pub struct GreetingDecoder {
    buf: [u8; GREETING_LEN],
    filled: usize,
}

impl Default for GreetingDecoder {
    fn default() -> Self {
        GreetingDecoder::new()
    }
}

impl GreetingDecoder {
    /// A decoder that has seen nothing yet.
    pub fn new() -> GreetingDecoder {
        GreetingDecoder {
            buf: [0; GREETING_LEN],
            filled: 0,
        }
    }

    /// How many greeting octets have arrived so far.
    pub fn received(&self) -> usize {
        self.filled
    }

    /// Consumes octets from `input` (never more than the greeting needs) and
    /// returns how many it took, with the greeting once all 64 have arrived.
    ///
    /// Each part is checked as soon as it is complete: a bad signature after
    /// 10 octets (after 1 for a ZMTP 1.0 peer), an old version at octet 11.
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<Greeting>), Error> {
        let before = self.filled;
        let take = input.len().min(GREETING_LEN - before);
        self.buf[before..before + take].copy_from_slice(&input[..take]);
        self.filled += take;
        let filled = self.filled;

        // ZMTP 1.0 peers start with a short frame length, not %xFF.
        if before == 0 && filled >= 1 && self.buf[0] != 0xFF {
            return Err(MalformedError::BadSignature.into());
        }
        // Octet 9: %x7F. (ZMTP 1.0 with a long identity has bit 0 clear here.)
        if before < SIGNATURE_LEN && filled >= SIGNATURE_LEN && self.buf[9] != 0x7F {
            return Err(MalformedError::BadSignature.into());
        }
        // The padding (octets 1..9) is NOT validated: libzmq puts a length there.
        if before <= MAJOR_POS && filled > MAJOR_POS && self.buf[MAJOR_POS] < 3 {
            return Err(ProtocolError::UnsupportedVersion {
                major: self.buf[MAJOR_POS],
            }
            .into());
        }
        if filled < GREETING_LEN {
            return Ok((take, None));
        }
        let mut raw = [0u8; MECHANISM_LEN];
        raw.copy_from_slice(&self.buf[MECHANISM_POS..AS_SERVER_POS]);
        let greeting = Greeting {
            major: self.buf[MAJOR_POS],
            minor: self.buf[MINOR_POS],
            mechanism: MechanismName::from_wire(raw)?,
            // Any non-zero value reads as "server"; nothing depends on it.
            as_server: self.buf[AS_SERVER_POS] != 0,
        };
        // The filler (octets 33..64) is ignored, as libzmq does.
        Ok((take, Some(greeting)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    /// What libzmq 4.3 sends for a NULL socket with an empty routing id: note
    /// the 0x01 in the padding.
    const LIBZMQ_NULL: [u8; 64] = hex!(
        "ff00000000000000017f 03 01"
        "4e554c4c0000000000000000000000000000000000"
        "00000000000000000000000000000000000000000000000000000000000000"
    );

    fn decode_all(bytes: &[u8]) -> Result<Option<Greeting>, Error> {
        let mut d = GreetingDecoder::new();
        let (used, g) = d.decode(bytes)?;
        assert!(used <= bytes.len());
        Ok(g)
    }

    #[test]
    fn decodes_libzmq_greeting_with_nonzero_padding() {
        let g = decode_all(&LIBZMQ_NULL).unwrap().unwrap();
        assert_eq!(g, Greeting::new(MechanismName::NULL, false));
        assert_eq!(g.revision(), Ok(Revision::V3_1));
    }

    #[test]
    fn encodes_like_libzmq() {
        assert_eq!(
            Greeting::new(MechanismName::NULL, false).encode(),
            LIBZMQ_NULL
        );
        let curve = Greeting::new(MechanismName::CURVE, true).encode();
        assert_eq!(&curve[12..18], b"CURVE\0");
        assert_eq!(curve[32], 1);
    }

    #[test]
    fn decodes_at_every_split_point() {
        for split in 0..=64 {
            let mut d = GreetingDecoder::new();
            let (a, g1) = d.decode(&LIBZMQ_NULL[..split]).unwrap();
            assert_eq!(a, split);
            assert_eq!(g1.is_some(), split == 64);
            let (b, g2) = d.decode(&LIBZMQ_NULL[split..]).unwrap();
            assert_eq!(b, 64 - split);
            assert_eq!(g1.or(g2), Some(Greeting::new(MechanismName::NULL, false)));
        }
    }

    #[test]
    fn consumes_only_the_greeting() {
        let mut stream = LIBZMQ_NULL.to_vec();
        stream.extend_from_slice(&[0x04, 0x00]);
        let mut d = GreetingDecoder::new();
        let (used, g) = d.decode(&stream).unwrap();
        assert_eq!(used, 64);
        assert!(g.is_some());
    }

    #[test]
    fn accepts_3_0_and_later_versions() {
        let mut g = LIBZMQ_NULL;
        g[11] = 0;
        assert_eq!(
            decode_all(&g).unwrap().unwrap().revision(),
            Ok(Revision::V3_0)
        );
        g[10] = 4;
        g[11] = 7;
        assert_eq!(
            decode_all(&g).unwrap().unwrap().revision(),
            Ok(Revision::V3_1)
        );
    }

    #[test]
    fn rejects_bad_signature_first_octet_at_once() {
        // A ZMTP 1.0 peer starts with a short identity frame: 0x01 0x00.
        let mut d = GreetingDecoder::new();
        assert_eq!(d.decode(&[0x01]), Err(MalformedError::BadSignature.into()));
    }

    #[test]
    fn rejects_bad_signature_tenth_octet() {
        let mut g = LIBZMQ_NULL;
        g[9] = 0x7E;
        let mut d = GreetingDecoder::new();
        assert_eq!(d.decode(&g[..10]), Err(MalformedError::BadSignature.into()));
    }

    #[test]
    fn rejects_version_2_and_older_without_waiting_for_64_octets() {
        for major in [0u8, 1, 2] {
            let mut g = LIBZMQ_NULL;
            g[10] = major;
            let mut d = GreetingDecoder::new();
            assert_eq!(
                d.decode(&g[..11]),
                Err(ProtocolError::UnsupportedVersion { major }.into()),
                "major {major}"
            );
        }
    }

    #[test]
    fn rejects_malformed_mechanism_names() {
        let cases: [&[u8]; 4] = [b"null", b"", b"NU\0LL", b"NULL\x01"];
        for name in cases {
            let mut g = LIBZMQ_NULL;
            g[12..32].fill(0);
            g[12..12 + name.len()].copy_from_slice(name);
            assert_eq!(
                decode_all(&g),
                Err(MalformedError::BadMechanismName.into()),
                "{:?}",
                name.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn unknown_but_well_formed_mechanism_parses() {
        let mut g = LIBZMQ_NULL;
        g[12..32].fill(0);
        g[12..18].copy_from_slice(b"GSSAPI");
        let got = decode_all(&g).unwrap().unwrap();
        assert_eq!(got.mechanism.as_bytes(), b"GSSAPI");
        assert!(!got.mechanism.is_known());
    }
}
