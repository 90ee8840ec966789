//! Short strings kept inline: record-carrying answers hold a sequence number (and, for
//! PutRecords, a shard id) per record, and a heap string each cost an allocation and a free
//! per record on the hot paths.

use std::fmt;
use std::ops::Deref;

use serde::{Serialize, Serializer};

/// A string of at most `N` bytes stored inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct InlineStr<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

/// A sequence number's decimal digits (shardline's are always 56 long).
pub type SequenceText = InlineStr<56>;

/// A shard id (`shardId-` and 12 digits for the shards shardline makes).
pub type ShardIdText = InlineStr<32>;

impl<const N: usize> InlineStr<N> {
    /// `None` if `s` is longer than `N` bytes (or than 255).
    pub fn new(s: &str) -> Option<Self> {
        let len = u8::try_from(s.len())
            .ok()
            .filter(|&l| usize::from(l) <= N)?;
        let mut bytes = [0; N];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Some(InlineStr { len, bytes })
    }

    pub fn as_str(&self) -> &str {
        // Always valid: the bytes were copied from a `str`, and only whole.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl<const N: usize> Deref for InlineStr<N> {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> PartialEq<str> for InlineStr<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for InlineStr<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> Serialize for InlineStr<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_its_capacity_and_reads_back() {
        let s = InlineStr::<4>::new("abcd").unwrap();
        assert_eq!(s.as_str(), "abcd");
        assert_eq!(&*s, "abcd");
        assert!(InlineStr::<4>::new("abcde").is_none());
        assert_eq!(InlineStr::<4>::new("").unwrap().as_str(), "");
        assert_eq!(format!("{s} {s:?}"), "abcd \"abcd\"");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"abcd\"");
        // Multi-byte characters are kept whole.
        assert_eq!(InlineStr::<4>::new("é€").map(|s| s.len()), None);
        assert_eq!(InlineStr::<5>::new("é€").unwrap().as_str(), "é€");
    }
}
