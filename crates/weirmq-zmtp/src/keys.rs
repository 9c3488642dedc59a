//! CURVE keys: 32-octet Curve25519 public and secret keys, as raw octets or
//! 40-character Z85 text.
//!
//! A [`SecretKey`] is wiped from memory when dropped and never shown: its
//! `Debug` prints a redaction, it has no `Display`, and its Z85 form comes
//! back in a [`Zeroizing`] string that is wiped too.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::z85::{self, Z85Error};

/// Length of a key in octets.
pub const KEY_LEN: usize = 32;
/// Length of a key in Z85 characters.
pub const KEY_Z85_LEN: usize = 40;

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not valid Z85.
    #[error("key is not valid Z85: {0}")]
    Z85(#[from] Z85Error),
    /// Not 32 octets (40 Z85 characters).
    #[error("a key is 32 octets (40 Z85 characters), got {0} octets")]
    BadLength(usize),
}

fn key_bytes(text: &str) -> Result<[u8; KEY_LEN], KeyError> {
    // libzmq accepts a trailing NUL (41 characters); so do we.
    let text = text.strip_suffix('\0').unwrap_or(text);
    let mut raw = Zeroizing::new(z85::decode(text)?);
    let key: [u8; KEY_LEN] = raw
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::BadLength(raw.len()))?;
    raw.zeroize();
    Ok(key)
}

/// A Curve25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; KEY_LEN]);

impl PublicKey {
    /// From raw octets.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> PublicKey {
        PublicKey(bytes)
    }

    /// From 40 Z85 characters (41 with a trailing NUL, as libzmq allows).
    pub fn from_z85(text: &str) -> Result<PublicKey, KeyError> {
        key_bytes(text).map(PublicKey)
    }

    /// The raw octets.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The 40-character Z85 form.
    pub fn to_z85(&self) -> String {
        z85::encode(&self.0).expect("32 is a multiple of 4")
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", z85::Shown(&self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// A Curve25519 secret key: wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// From raw octets.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SecretKey {
        SecretKey(bytes)
    }

    /// From 40 Z85 characters (41 with a trailing NUL).
    pub fn from_z85(text: &str) -> Result<SecretKey, KeyError> {
        key_bytes(text).map(SecretKey)
    }

    /// The raw octets.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The Z85 form, in a string that is wiped when dropped.
    pub fn to_z85(&self) -> Zeroizing<String> {
        Zeroizing::new(z85::encode(&self.0).expect("32 is a multiple of 4"))
    }

    /// The public key that belongs to this secret key.
    pub fn public_key(&self) -> PublicKey {
        let secret = crypto_box::SecretKey::from(self.0);
        PublicKey(*secret.public_key().as_bytes())
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A public key and its secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct Keypair {
    /// The public half, to give to peers.
    pub public: PublicKey,
    /// The secret half.
    pub secret: SecretKey,
}

impl Keypair {
    /// A fresh keypair from the operating system's random number generator.
    pub fn generate() -> Keypair {
        let secret = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        let secret = SecretKey(secret.to_bytes());
        Keypair {
            public: secret.public_key(),
            secret,
        }
    }

    /// The keypair of a secret key.
    pub fn from_secret(secret: SecretKey) -> Keypair {
        Keypair {
            public: secret.public_key(),
            secret,
        }
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("public", &self.public)
            .field("secret", &self.secret)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keypair from libzmq's documentation (zmq_curve(7)).
    const PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

    #[test]
    fn the_secret_key_derives_its_public_key() {
        let secret = SecretKey::from_z85(SECRET).unwrap();
        assert_eq!(secret.public_key(), PublicKey::from_z85(PUBLIC).unwrap());
        assert_eq!(secret.to_z85().as_str(), SECRET);
        assert_eq!(PublicKey::from_z85(PUBLIC).unwrap().to_z85(), PUBLIC);
    }

    #[test]
    fn accepts_a_trailing_nul_and_refuses_bad_keys() {
        assert!(PublicKey::from_z85(&format!("{PUBLIC}\0")).is_ok());
        assert_eq!(
            PublicKey::from_z85("HelloWorld"),
            Err(KeyError::BadLength(8))
        );
        assert!(matches!(
            PublicKey::from_z85(&PUBLIC[..39]),
            Err(KeyError::Z85(_))
        ));
        assert!(matches!(
            SecretKey::from_z85("not z85 at all ~~~~~"),
            Err(KeyError::Z85(_))
        ));
    }

    #[test]
    fn secret_keys_are_never_printed() {
        let pair = Keypair::from_secret(SecretKey::from_z85(SECRET).unwrap());
        let shown = format!("{pair:?} {:?}", pair.secret);
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert!(shown.contains(PUBLIC), "the public half may be shown");
    }

    #[test]
    fn generated_keypairs_are_distinct_and_consistent() {
        let a = Keypair::generate();
        let b = Keypair::generate();
        assert_ne!(a.public, b.public);
        assert_eq!(a.secret.public_key(), a.public);
    }
}
