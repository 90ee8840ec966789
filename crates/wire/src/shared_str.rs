//! A string that shares the buffer it was read from: a GetRecords answer carries a partition
//! key per record, and each was a copy into a heap string of its own.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use serde::{Serialize, Serializer};

/// UTF-8 text held in (a slice of) a [`Bytes`] buffer.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SharedStr(Bytes);

impl SharedStr {
    /// `None` if `bytes` is not UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Option<Self> {
        std::str::from_utf8(&bytes).ok()?;
        Some(SharedStr(bytes))
    }

    pub fn as_str(&self) -> &str {
        // Checked in `from_utf8`; the buffer is immutable.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl From<&'static str> for SharedStr {
    fn from(s: &'static str) -> Self {
        SharedStr(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> Self {
        SharedStr(Bytes::from(s))
    }
}

impl Deref for SharedStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for SharedStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_valid_utf8_and_refuses_the_rest() {
        let buf = Bytes::from_static("..ключ..".as_bytes());
        let key = SharedStr::from_utf8(buf.slice(2..10)).unwrap();
        assert_eq!(key, "ключ");
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"ключ\"");
        assert_eq!(format!("{key:?}"), "\"ключ\"");
        // Half of a two-byte character.
        assert!(SharedStr::from_utf8(buf.slice(2..3)).is_none());
        assert_eq!(SharedStr::from("pk").len(), 2);
    }
}
