//! A bounds-checked cursor over a command body. Every read names the field it
//! reads, so a short body becomes a precise [`MalformedError`], never a panic.

use bytes::{Buf, Bytes};

use crate::error::{Field, MalformedError};

pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Reader {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn u8(&mut self, field: Field) -> Result<u8, MalformedError> {
        if self.buf.is_empty() {
            return Err(MalformedError::Truncated(field));
        }
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self, field: Field) -> Result<u16, MalformedError> {
        if self.buf.len() < 2 {
            return Err(MalformedError::Truncated(field));
        }
        Ok(self.buf.get_u16())
    }

    pub(crate) fn u32(&mut self, field: Field) -> Result<u32, MalformedError> {
        if self.buf.len() < 4 {
            return Err(MalformedError::Truncated(field));
        }
        Ok(self.buf.get_u32())
    }

    /// `len` octets, sharing the body's memory.
    pub(crate) fn bytes(&mut self, len: u64, field: Field) -> Result<Bytes, MalformedError> {
        match usize::try_from(len) {
            Ok(n) if n <= self.buf.len() => Ok(self.buf.split_to(n)),
            _ => Err(MalformedError::LengthPastEnd {
                field,
                claimed: len,
                available: self.buf.len(),
            }),
        }
    }

    /// A 1-octet length followed by that many octets.
    pub(crate) fn short_string(&mut self, field: Field) -> Result<Bytes, MalformedError> {
        let len = self.u8(field)?;
        self.bytes(u64::from(len), field)
    }

    pub(crate) fn rest(self) -> Bytes {
        self.buf
    }
}
