//! A security mechanism's name as the greeting carries it (RFC 23): the
//! type alone, so that errors can name a mechanism without depending on
//! the greeting's decoder (which validates names from the wire).

use std::fmt;

/// Length of the mechanism field.
pub const MECHANISM_LEN: usize = 20;

/// A security mechanism name: up to 20 characters from `A-Z 0-9 - _ . +`,
/// NUL padded on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MechanismName(pub(crate) [u8; MECHANISM_LEN]);

impl MechanismName {
    /// `NULL`: no security.
    pub const NULL: MechanismName = MechanismName::from_static("NULL");
    /// `PLAIN`: clear-text user name and password (RFC 24).
    pub const PLAIN: MechanismName = MechanismName::from_static("PLAIN");
    /// `CURVE`: CurveZMQ encryption and authentication (RFC 26).
    pub const CURVE: MechanismName = MechanismName::from_static("CURVE");

    const fn from_static(name: &str) -> MechanismName {
        let src = name.as_bytes();
        let mut raw = [0u8; MECHANISM_LEN];
        let mut i = 0;
        while i < src.len() {
            raw[i] = src[i];
            i += 1;
        }
        MechanismName(raw)
    }

    /// The name without its NUL padding, e.g. `b"CURVE"`.
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(MECHANISM_LEN);
        &self.0[..len]
    }

    /// Whether this implementation knows the mechanism.
    pub fn is_known(&self) -> bool {
        [
            MechanismName::NULL,
            MechanismName::PLAIN,
            MechanismName::CURVE,
        ]
        .contains(self)
    }
}

impl fmt::Display for MechanismName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only validated characters can be in here: printable ASCII.
        write!(f, "{}", self.as_bytes().escape_ascii())
    }
}

impl fmt::Debug for MechanismName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MechanismName({self})")
    }
}
