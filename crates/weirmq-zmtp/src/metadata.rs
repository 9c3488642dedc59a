//! Connection metadata: the properties of READY (and of PLAIN/CURVE
//! INITIATE and READY).
//!
//! ```text
//! metadata = *property
//! property = name value
//! name = short-size 1*255name-char
//! value = 4OCTET *OCTET       ; Size in network byte order
//! ```

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ErrorReason, Field, MalformedError};
use crate::reader::Reader;
use crate::socket_type::SocketType;

/// The `Socket-Type` property name.
pub const SOCKET_TYPE: &str = "Socket-Type";
/// The `Identity` property name (the routing id).
pub const IDENTITY: &str = "Identity";
/// The `Resource` property name.
pub const RESOURCE: &str = "Resource";
/// The `User-Id` property name, which ZAP handlers set.
pub const USER_ID: &str = "User-Id";

/// An ordered list of properties. Lookups ignore ASCII case, as RFC 37 says
/// ("Metadata names SHALL be case-insensitive").
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    props: Vec<(Bytes, Bytes)>,
}

/// A property name that cannot go on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("property name must be 1 to 255 octets, got {0}")]
pub struct BadPropertyName(pub usize);

impl Metadata {
    /// No properties.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Appends a property. Names are 1 to 255 octets.
    pub fn insert(
        &mut self,
        name: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<(), BadPropertyName> {
        let name = name.into();
        if name.is_empty() || name.len() > 255 {
            return Err(BadPropertyName(name.len()));
        }
        self.props.push((name, value.into()));
        Ok(())
    }

    /// The first value of `name`, ignoring ASCII case.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.props
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Whether a property `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// All properties in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.props.iter().map(|(n, v)| (n, v))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.props.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.props.is_empty()
    }

    /// The only value of `name`; two or more (in any case) is an error. For
    /// the properties that decide how a peer is treated: a duplicate would
    /// let one reader see one value and another reader the other.
    fn unique(&self, name: &'static str) -> Result<Option<&Bytes>, MalformedError> {
        let mut found = self
            .props
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()));
        let first = found.next().map(|(_, v)| v);
        if found.next().is_some() {
            return Err(MalformedError::DuplicateProperty(name));
        }
        Ok(first)
    }

    /// The peer's `Socket-Type`, if it sent one. libzmq accepts a READY
    /// without it, so a missing one is `Ok(None)`; an unknown one is an error.
    pub fn socket_type(&self) -> Result<Option<SocketType>, MalformedError> {
        match self.unique(SOCKET_TYPE)? {
            None => Ok(None),
            Some(v) => SocketType::from_wire(v)
                .map(Some)
                .ok_or_else(|| MalformedError::UnknownSocketType(ErrorReason(v.clone()))),
        }
    }

    /// The peer's `Identity` (routing id), if it sent a non-empty one.
    /// RFC 37 caps it at 255 octets and reserves a leading zero octet.
    pub fn identity(&self) -> Result<Option<&Bytes>, MalformedError> {
        match self.unique(IDENTITY)? {
            Some(v) if v.len() > 255 => Err(MalformedError::IdentityTooLong { len: v.len() }),
            Some(v) if v.first() == Some(&0) => Err(MalformedError::ReservedIdentity),
            Some(v) if !v.is_empty() => Ok(Some(v)),
            _ => Ok(None),
        }
    }

    /// Parses a property list that fills `body` exactly.
    pub fn decode(body: Bytes) -> Result<Metadata, MalformedError> {
        let mut r = Reader::new(body);
        let mut props = Vec::new();
        while !r.is_empty() {
            let name = r.short_string(Field::PropertyName)?;
            // RFC 37: "Zero-sized names are not valid."
            if name.is_empty() {
                return Err(MalformedError::EmptyName(Field::PropertyName));
            }
            let len = r.u32(Field::PropertyValueLength)?;
            let value = r.bytes(u64::from(len), Field::PropertyValue)?;
            props.push((name, value));
        }
        Ok(Metadata { props })
    }

    /// Octets [`Metadata::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.props
            .iter()
            .map(|(n, v)| 1 + n.len() + 4 + v.len())
            .sum()
    }

    /// Writes the property list.
    pub fn encode(&self, dst: &mut BytesMut) {
        for (name, value) in &self.props {
            // `insert` and `decode` guarantee 1..=255.
            dst.put_u8(name.len() as u8);
            dst.extend_from_slice(name);
            dst.put_u32(u32::try_from(value.len()).unwrap_or(u32::MAX));
            dst.extend_from_slice(value);
        }
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.props
                    .iter()
                    .map(|(n, v)| (n.escape_ascii().to_string(), v.escape_ascii().to_string())),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    #[test]
    fn lookup_ignores_case_and_keeps_order() {
        let mut m = Metadata::new();
        m.insert("Socket-Type", "DEALER").unwrap();
        m.insert("X-App", "1").unwrap();
        m.insert("x-app", "2").unwrap();
        assert_eq!(m.get("socket-type").unwrap(), "DEALER");
        assert_eq!(m.get("X-APP").unwrap(), "1");
        assert_eq!(m.socket_type(), Ok(Some(SocketType::Dealer)));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn identity_rules() {
        let mut m = Metadata::new();
        assert_eq!(m.identity(), Ok(None));
        m.insert(IDENTITY, "").unwrap();
        assert_eq!(m.identity(), Ok(None), "empty identity means none");
        let mut m = Metadata::new();
        m.insert(IDENTITY, vec![7u8; 256]).unwrap();
        assert_eq!(
            m.identity(),
            Err(MalformedError::IdentityTooLong { len: 256 })
        );
    }

    #[test]
    fn rejects_bad_names_from_the_caller() {
        let mut m = Metadata::new();
        assert_eq!(m.insert("", "x"), Err(BadPropertyName(0)));
        assert_eq!(m.insert(vec![b'a'; 256], "x"), Err(BadPropertyName(256)));
    }

    #[test]
    fn rejects_identity_with_a_reserved_zero_first_octet() {
        let mut m = Metadata::new();
        m.insert(IDENTITY, &b"\0\0\0\0\x01"[..]).unwrap();
        assert_eq!(m.identity(), Err(MalformedError::ReservedIdentity));
    }

    #[test]
    fn rejects_duplicate_socket_type_or_identity_in_any_case() {
        let mut m = Metadata::new();
        m.insert("socket-type", "PUB").unwrap();
        m.insert(SOCKET_TYPE, "PUSH").unwrap();
        assert_eq!(
            m.socket_type(),
            Err(MalformedError::DuplicateProperty(SOCKET_TYPE))
        );
        let mut m = Metadata::new();
        m.insert(IDENTITY, "a").unwrap();
        m.insert("IDENTITY", "b").unwrap();
        assert_eq!(
            m.identity(),
            Err(MalformedError::DuplicateProperty(IDENTITY))
        );
    }

    #[test]
    fn rejects_unknown_socket_type() {
        let mut m = Metadata::new();
        m.insert(SOCKET_TYPE, "STREAMER").unwrap();
        assert!(matches!(
            m.socket_type(),
            Err(MalformedError::UnknownSocketType(_))
        ));
    }

    #[test]
    fn rejects_truncated_property_name() {
        // name-len says 11, only 3 octets follow.
        let body = Bytes::from_static(&hex!("0b 536f63"));
        assert_eq!(
            Metadata::decode(body),
            Err(MalformedError::LengthPastEnd {
                field: Field::PropertyName,
                claimed: 11,
                available: 3
            })
        );
    }

    #[test]
    fn rejects_truncated_value_length() {
        let body = Bytes::from_static(&hex!("01 41 0000"));
        assert_eq!(
            Metadata::decode(body),
            Err(MalformedError::Truncated(Field::PropertyValueLength))
        );
    }

    #[test]
    fn rejects_property_length_past_the_body() {
        let body = Bytes::from_static(&hex!("01 41 00000010 4243"));
        assert_eq!(
            Metadata::decode(body),
            Err(MalformedError::LengthPastEnd {
                field: Field::PropertyValue,
                claimed: 16,
                available: 2
            })
        );
        // A length near u32::MAX must not allocate or overflow either.
        let body = Bytes::from_static(&hex!("01 41 ffffffff"));
        assert!(matches!(
            Metadata::decode(body),
            Err(MalformedError::LengthPastEnd {
                claimed: 0xffff_ffff,
                ..
            })
        ));
    }

    #[test]
    fn rejects_empty_property_name() {
        let body = Bytes::from_static(&hex!("00 00000000"));
        assert_eq!(
            Metadata::decode(body),
            Err(MalformedError::EmptyName(Field::PropertyName))
        );
    }

    #[test]
    fn debug_escapes_hostile_bytes() {
        let mut m = Metadata::new();
        m.insert("X-\x1b[2J", "\x07").unwrap();
        let shown = format!("{m:?}");
        assert!(
            !shown.contains('\x1b') && !shown.contains('\x07'),
            "{shown}"
        );
    }

    proptest! {
        #[test]
        fn round_trip(props in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 1..40), prop::collection::vec(any::<u8>(), 0..300)),
            0..6,
        )) {
            let mut m = Metadata::new();
            for (n, v) in &props {
                m.insert(n.clone(), v.clone()).unwrap();
            }
            let mut buf = BytesMut::new();
            m.encode(&mut buf);
            prop_assert_eq!(buf.len(), m.encoded_len());
            prop_assert_eq!(Metadata::decode(buf.freeze()).unwrap(), m);
        }
    }
}
