//! Z85 (ZeroMQ RFC 32): binary as printable text, 4 octets to 5 characters.
//! CURVE keys travel as 40-character Z85 strings.

use std::fmt;

const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Why a Z85 conversion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Z85Error {
    /// Z85 encodes whole 4-octet groups only.
    #[error("Z85 encodes a multiple of 4 octets, not {0}")]
    BadBinaryLength(usize),
    /// Z85 text comes in whole 5-character groups only.
    #[error("Z85 text is a multiple of 5 characters, not {0}")]
    BadTextLength(usize),
    /// A character outside the Z85 alphabet.
    #[error("invalid Z85 character {0:?} at {1}")]
    BadCharacter(char, usize),
    /// A 5-character group whose value does not fit in 4 octets (libzmq's
    /// decoder once read past its table on such input: OSV-2020-1655).
    #[error("Z85 group at {0} is out of range")]
    Overflow(usize),
}

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|v| v as u32)
}

/// Encodes `data` (a multiple of 4 octets).
pub fn encode(data: &[u8]) -> Result<String, Z85Error> {
    if data.len() % 4 != 0 {
        return Err(Z85Error::BadBinaryLength(data.len()));
    }
    let mut out = String::with_capacity(data.len() / 4 * 5);
    for chunk in data.chunks_exact(4) {
        let mut v = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut group = [0u8; 5];
        for slot in group.iter_mut().rev() {
            *slot = ALPHABET[(v % 85) as usize];
            v /= 85;
        }
        out.extend(group.iter().map(|&b| char::from(b)));
    }
    Ok(out)
}

/// Decodes Z85 text (a multiple of 5 characters).
pub fn decode(text: &str) -> Result<Vec<u8>, Z85Error> {
    if let Some((pos, ch)) = text.char_indices().find(|(_, c)| !c.is_ascii()) {
        return Err(Z85Error::BadCharacter(ch, pos));
    }
    let bytes = text.as_bytes();
    if bytes.len() % 5 != 0 {
        return Err(Z85Error::BadTextLength(bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() / 5 * 4);
    for (g, group) in bytes.chunks_exact(5).enumerate() {
        let mut v: u64 = 0;
        for (i, &c) in group.iter().enumerate() {
            let pos = g * 5 + i;
            let d = value(c).ok_or(Z85Error::BadCharacter(char::from(c), pos))?;
            v = v * 85 + u64::from(d);
        }
        let v = u32::try_from(v).map_err(|_| Z85Error::Overflow(g * 5))?;
        out.extend_from_slice(&v.to_be_bytes());
    }
    Ok(out)
}

/// Shows octets as Z85 when they are a multiple of 4 long (for Display).
pub(crate) struct Shown<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match encode(self.0) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}", self.0.escape_ascii()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc32_test_vector() {
        let data = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(encode(&data).unwrap(), "HelloWorld");
        assert_eq!(decode("HelloWorld").unwrap(), data);
    }

    #[test]
    fn libzmq_test_key_vectors() {
        // The CURVE keys of libzmq's test_security_curve and RFC 26.
        let public = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
        let bytes = decode(public).unwrap();
        assert_eq!(bytes.len(), 32);
        assert_eq!(encode(&bytes).unwrap(), public);
    }

    #[test]
    fn rejects_bad_lengths_characters_and_overflow() {
        assert_eq!(encode(&[1, 2, 3]), Err(Z85Error::BadBinaryLength(3)));
        assert_eq!(decode("Hell"), Err(Z85Error::BadTextLength(4)));
        assert_eq!(decode("Hel\"o"), Err(Z85Error::BadCharacter('"', 3)));
        assert_eq!(decode("Hel o"), Err(Z85Error::BadCharacter(' ', 3)));
        // "#####" is 84 * (85^4 + 85^3 + 85^2 + 85 + 1) > u32::MAX.
        assert_eq!(decode("#####"), Err(Z85Error::Overflow(0)));
        assert_eq!(decode("é1234"), Err(Z85Error::BadCharacter('é', 0)));
    }

    proptest! {
        #[test]
        fn round_trip(words in prop::collection::vec(any::<[u8; 4]>(), 0..20)) {
            let data: Vec<u8> = words.concat();
            let text = encode(&data).unwrap();
            prop_assert_eq!(text.len(), data.len() / 4 * 5);
            prop_assert_eq!(decode(&text).unwrap(), data);
        }
    }
}
