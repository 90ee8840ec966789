//! A fast reader for the request body that carries the most data: PutRecords in JSON.
//!
//! It reads the shape SDKs send — known members, strings without escapes, base64 that AWS
//! accepts — and decodes every record's data into one shared buffer, so a 500-record call
//! makes one data allocation instead of two per record. Anything else (an escape, an unknown
//! or repeated member, a null, a wrong type, bad base64, trailing bytes) returns `None`, and
//! the body goes through serde, which answers every error with AWS's text. This path changes
//! speed only: whatever it accepts, serde reads to the same value (tested below).

use std::ops::Range;

use bytes::Bytes;

use crate::shapes::{PutRecordsInput, PutRecordsRequestEntry};
use crate::Blob;

/// Reads a PutRecords body, or `None` when it needs the general reader.
pub fn parse(body: &[u8]) -> Option<PutRecordsInput> {
    let mut r = Reader { body, at: 0 };
    let mut input = PutRecordsInput::default();
    // Decoded data is at most 3/4 of the body: sized once, never moved while it grows.
    let mut data = Vec::with_capacity(body.len() / 4 * 3);
    // Per entry: its data's range in `data`.
    let mut ranges: Vec<Option<Range<usize>>> = Vec::new();
    r.object(|r, key| match key {
        b"StreamName" if input.stream_name.is_none() => {
            input.stream_name = Some(r.text()?);
            Some(())
        }
        b"StreamARN" if input.stream_arn.is_none() => {
            input.stream_arn = Some(r.text()?);
            Some(())
        }
        b"Records" if input.records.is_none() => {
            input.records = Some(r.entries(&mut data, &mut ranges)?);
            Some(())
        }
        _ => None,
    })?;
    r.skip_ws();
    if r.at != body.len() {
        return None;
    }
    if let Some(entries) = &mut input.records {
        let data = Bytes::from(data);
        for (entry, range) in entries.iter_mut().zip(ranges) {
            entry.data = range.map(|range| Blob(data.slice(range)));
        }
    }
    Some(input)
}

struct Reader<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.body.get(self.at) {
            self.at += 1;
        }
    }

    /// Skips whitespace and then `byte`, or fails.
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        if self.body.get(self.at) == Some(&byte) {
            self.at += 1;
            Some(())
        } else {
            None
        }
    }

    /// Skips whitespace and reports whether `byte` comes next (without consuming it).
    fn peek_is(&mut self, byte: u8) -> bool {
        self.skip_ws();
        self.body.get(self.at) == Some(&byte)
    }

    /// A string's raw bytes, which must need no unescaping.
    fn raw_str(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let rest = &self.body[self.at..];
        let len = memchr::memchr(b'"', rest)?;
        let s = &rest[..len];
        // Escapes and control characters are for serde; folded without early exit so the
        // check vectorizes.
        if !s
            .iter()
            .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'\\'))
        {
            return None;
        }
        self.at += len + 1;
        Some(s)
    }

    fn text(&mut self) -> Option<String> {
        let raw = self.raw_str()?;
        std::str::from_utf8(raw).ok().map(str::to_owned)
    }

    /// `{ "key": value, ... }`, each value read by `member`.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &[u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek_is(b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.raw_str()?;
            self.eat(b':')?;
            member(self, key)?;
            if self.peek_is(b',') {
                self.at += 1;
            } else {
                return self.eat(b'}');
            }
        }
    }

    /// The `Records` list; data is decoded onto the end of `data`.
    fn entries(
        &mut self,
        data: &mut Vec<u8>,
        ranges: &mut Vec<Option<Range<usize>>>,
    ) -> Option<Vec<PutRecordsRequestEntry>> {
        self.eat(b'[')?;
        let mut entries = Vec::new();
        if self.peek_is(b']') {
            self.at += 1;
            return Some(entries);
        }
        loop {
            let mut entry = PutRecordsRequestEntry::default();
            let mut range = None;
            self.object(|r, key| match key {
                b"Data" if range.is_none() => {
                    let encoded = r.raw_str()?;
                    let start = data.len();
                    base64_simd::STANDARD.decode_append(encoded, data).ok()?;
                    range = Some(start..data.len());
                    Some(())
                }
                b"PartitionKey" if entry.partition_key.is_none() => {
                    entry.partition_key = Some(r.text()?);
                    Some(())
                }
                b"ExplicitHashKey" if entry.explicit_hash_key.is_none() => {
                    entry.explicit_hash_key = Some(r.text()?);
                    Some(())
                }
                _ => None,
            })?;
            entries.push(entry);
            ranges.push(range);
            if self.peek_is(b',') {
                self.at += 1;
            } else {
                self.eat(b']')?;
                return Some(entries);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn serde_read(body: &[u8]) -> Option<PutRecordsInput> {
        crate::json::decode::<PutRecordsInput>(body).ok()
    }

    /// Whatever the fast path accepts, serde reads to the same value.
    fn agrees(body: &[u8]) -> bool {
        match parse(body) {
            None => true,
            Some(fast) => serde_read(body).is_some_and(|slow| fast == slow),
        }
    }

    #[test]
    fn reads_what_sdks_send() {
        let compact = br#"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k"},{"Data":"","PartitionKey":"\u00e9t\u00e9","ExplicitHashKey":"7"}]}"#;
        // boto3's json.dumps puts spaces after separators.
        let spaced = br#" { "Records" : [ { "PartitionKey": "k", "Data": "aGVsbG8=" } ],
            "StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s" } "#;
        let unicode =
            "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"AA==\",\"PartitionKey\":\"ключ🦀\"}]}";
        let empty = br#"{"StreamName":"s","Records":[]}"#;
        for body in [
            &compact[..],
            &spaced[..],
            unicode.as_bytes(),
            &empty[..],
            b"{}",
        ] {
            assert!(agrees(body), "{}", String::from_utf8_lossy(body));
        }
        // The first one has an escape: serde reads it.
        assert!(parse(compact).is_none());
        let fast = parse(spaced).expect("fast path");
        let records = fast.records.as_ref().expect("records");
        assert_eq!(
            records[0].data.as_ref().map(|d| &d.0[..]),
            Some(&b"hello"[..])
        );
        assert_eq!(records[0].partition_key.as_deref(), Some("k"));
        assert_eq!(
            parse(unicode.as_bytes()).expect("fast").records.expect("r")[0]
                .data
                .as_ref()
                .map(|d| d.len()),
            Some(1)
        );
        assert!(parse(empty).expect("fast").records.expect("r").is_empty());
    }

    #[test]
    fn leaves_everything_unusual_to_serde() {
        let bodies: [&[u8]; 14] = [
            br#"{"StreamName":"s","StreamName":"t","Records":[]}"#,
            br#"{"StreamName":"s","Records":[{"Data":"aGVsbG8","PartitionKey":"k"}]}"#,
            br#"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","Data":"AA==","PartitionKey":"k"}]}"#,
            br#"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k","Extra":1}]}"#,
            br#"{"StreamName":null,"Records":[]}"#,
            br#"{"StreamName":"s","Records":null}"#,
            br#"{"StreamName":"s","Records":[null]}"#,
            br#"{"StreamName":"s","Records":[]} x"#,
            br#"{"StreamName":"s","Records":[],}"#,
            br#"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":5}]}"#,
            b"{\"StreamName\":\"a\tb\",\"Records\":[]}",
            b"{\"StreamName\":\"\xff\",\"Records\":[]}",
            br#"[{"StreamName":"s"}]"#,
            br#"{"StreamName":"s","Records":[{"Data":"+/+=","PartitionKey":"k"}]}"#,
        ];
        for body in bodies {
            assert!(parse(body).is_none(), "{}", String::from_utf8_lossy(body));
        }
    }

    fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
        let entry = (
            proptest::collection::vec(any::<u8>(), 0..20),
            "[a-zA-Z0-9 é\\\\\"]{0,8}",
            proptest::option::of("[0-9]{1,5}"),
        )
            .prop_map(|(data, key, ehk)| {
                let mut e = serde_json::json!({
                    "Data": base64_simd::STANDARD.encode_to_string(data),
                    "PartitionKey": key,
                });
                if let Some(ehk) = ehk {
                    e["ExplicitHashKey"] = ehk.into();
                }
                e
            });
        (
            proptest::collection::vec(entry, 0..6),
            any::<bool>(),
            any::<u64>(),
        )
            .prop_map(|(entries, pretty, seed)| {
                let value = serde_json::json!({"StreamName": "s", "Records": entries});
                let mut body = if pretty {
                    serde_json::to_vec_pretty(&value).unwrap_or_default()
                } else {
                    serde_json::to_vec(&value).unwrap_or_default()
                };
                // One corrupted byte in some cases.
                if seed % 3 == 0 && !body.is_empty() {
                    let at = (seed >> 8) as usize % body.len();
                    body[at] = (seed >> 40) as u8;
                }
                body
            })
    }

    proptest! {
        #[test]
        fn agrees_with_serde(body in body_strategy()) {
            prop_assert!(agrees(&body), "{}", String::from_utf8_lossy(&body));
        }
    }
}
