//! JSON for the two outputs that carry records, written straight into the buffer.
//!
//! A GetRecords answer is mostly base64 data and sequence numbers. Through serde, each blob is
//! first encoded into a `String` and then copied byte by byte through serde_json's escape
//! check, which the profile showed as the largest single cost of a read. Base64 text, decimal
//! sequence numbers and shard ids are made by this server and never need escaping, so they
//! are written as they are; every other string still goes through serde_json. The output is
//! byte for byte what `serde_json::to_vec` writes for the same value (tested below).

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use crate::shapes::{GetRecordsOutput, PutRecordsOutput, Record};

/// `serde_json::to_vec` of a GetRecords answer, faster.
pub fn encode_get_records(out: &GetRecordsOutput) -> Vec<u8> {
    let data_bytes: usize = out.records.iter().map(|r| r.data.len()).sum();
    let mut buf = Vec::with_capacity(64 + out.records.len() * 160 + data_bytes * 4 / 3);
    buf.extend_from_slice(b"{\"Records\":[");
    for (i, r) in out.records.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        record(&mut buf, r);
    }
    buf.push(b']');
    if let Some(it) = &out.next_shard_iterator {
        buf.extend_from_slice(b",\"NextShardIterator\":");
        serde_value(&mut buf, it);
    }
    buf.extend_from_slice(b",\"MillisBehindLatest\":");
    serde_value(&mut buf, &out.millis_behind_latest);
    if let Some(children) = &out.child_shards {
        buf.extend_from_slice(b",\"ChildShards\":");
        serde_value(&mut buf, children);
    }
    buf.push(b'}');
    buf
}

/// `serde_json::to_vec` of a PutRecords answer, faster.
pub fn encode_put_records(out: &PutRecordsOutput) -> Vec<u8> {
    let mut buf = Vec::with_capacity(96 + out.records.len() * 112);
    buf.extend_from_slice(b"{\"FailedRecordCount\":");
    serde_value(&mut buf, &out.failed_record_count);
    buf.extend_from_slice(b",\"Records\":[");
    for (i, r) in out.records.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.push(b'{');
        let mut first = true;
        let mut field = |buf: &mut Vec<u8>, name: &[u8], value: Option<&str>, plain: bool| {
            let Some(v) = value else { return };
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.push(b'"');
            buf.extend_from_slice(name);
            buf.extend_from_slice(b"\":");
            if plain {
                plain_str(buf, v);
            } else {
                serde_value(buf, v);
            }
        };
        field(
            &mut buf,
            b"SequenceNumber",
            r.sequence_number.as_deref(),
            true,
        );
        field(&mut buf, b"ShardId", r.shard_id.as_deref(), true);
        field(&mut buf, b"ErrorCode", r.error_code.as_deref(), false);
        field(&mut buf, b"ErrorMessage", r.error_message.as_deref(), false);
        buf.push(b'}');
    }
    buf.push(b']');
    if let Some(t) = out.encryption_type {
        buf.extend_from_slice(b",\"EncryptionType\":");
        serde_value(&mut buf, t);
    }
    buf.push(b'}');
    buf
}

fn record(buf: &mut Vec<u8>, r: &Record) {
    buf.extend_from_slice(b"{\"SequenceNumber\":");
    plain_str(buf, &r.sequence_number);
    buf.extend_from_slice(b",\"ApproximateArrivalTimestamp\":");
    // What serde_json writes for an f64 (finite here: milliseconds are bounded).
    let seconds = r.approximate_arrival_timestamp.epoch_seconds();
    if CompactFormatter.write_f64(buf, seconds).is_err() {
        buf.extend_from_slice(b"null");
    }
    buf.extend_from_slice(b",\"Data\":\"");
    base64_simd::STANDARD.encode_append(&r.data.0, buf);
    buf.push(b'"');
    // Absent for records written without one (AUTO distribution), as serde writes it.
    if !r.partition_key.is_empty() {
        buf.extend_from_slice(b",\"PartitionKey\":");
        serde_value(buf, &r.partition_key);
    }
    if let Some(t) = r.encryption_type {
        buf.extend_from_slice(b",\"EncryptionType\":");
        serde_value(buf, t);
    }
    buf.push(b'}');
}

/// A string this server made from characters JSON never escapes (digits, letters, `-`).
/// Anything else (never expected) is escaped, so the output stays valid JSON regardless.
fn plain_str(buf: &mut Vec<u8>, s: &str) {
    // Folded without early exit so the check vectorizes (it runs for every record).
    let plain = s.bytes().fold(true, |ok, b| {
        let letter = (b | 0x20).wrapping_sub(b'a') < 26;
        ok & ((b.wrapping_sub(b'0') < 10) | letter | (b == b'-'))
    });
    if plain {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        serde_value(buf, s);
    }
}

fn serde_value<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    // Writing plain values into a Vec cannot fail.
    let _ = serde_json::to_writer(buf, value);
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::shapes::{ChildShard, HashKeyRange, PutRecordsResultEntry};
    use crate::{Blob, SequenceText, ShardIdText, Timestamp};

    fn record(i: u64) -> Record {
        let keys = ["k", "ключ \"quoted\" \\ back", "tab\there", "", "emoji 🦀"];
        Record {
            sequence_number: SequenceText::from(&format!("{}", 49_000_000_000u64 * (i + 1)))
                .unwrap(),
            approximate_arrival_timestamp: Timestamp::from_millis(1_700_000_000_000 + i as i64 * 7),
            data: Blob(Bytes::from(
                (0..(i * 13 % 50))
                    .map(|b| (b * 31 + i) as u8)
                    .collect::<Vec<u8>>(),
            )),
            partition_key: keys[(i % 5) as usize].into(),
            encryption_type: (!i.is_multiple_of(2)).then_some("KMS"),
        }
    }

    #[test]
    fn get_records_matches_serde_json() {
        for n in [0u64, 1, 7, 40] {
            for tail in 0..3 {
                let out = GetRecordsOutput {
                    records: (0..n).map(record).collect(),
                    next_shard_iterator: (tail != 1).then(|| "AAAA+/iterator==".to_string()),
                    millis_behind_latest: n as i64 * 1000 - 5,
                    child_shards: (tail == 1).then(|| {
                        vec![ChildShard {
                            shard_id: "shardId-000000000002".into(),
                            parent_shards: vec!["shardId-000000000000".into()],
                            hash_key_range: HashKeyRange {
                                starting_hash_key: "0".into(),
                                ending_hash_key: "17".into(),
                            },
                        }]
                    }),
                };
                let expected = serde_json::to_vec(&out).unwrap();
                assert_eq!(
                    String::from_utf8(encode_get_records(&out)).unwrap(),
                    String::from_utf8(expected).unwrap()
                );
            }
        }
    }

    #[test]
    fn put_records_matches_serde_json() {
        let records = (0..9u64)
            .map(|i| match i % 3 {
                0 => PutRecordsResultEntry {
                    sequence_number: SequenceText::from(&format!("{}", 1_234_567u64 * (i + 1)))
                        .ok(),
                    shard_id: ShardIdText::from(&format!("shardId-{i:012}")).ok(),
                    ..Default::default()
                },
                1 => PutRecordsResultEntry {
                    error_code: Some("ProvisionedThroughputExceededException".into()),
                    error_message: Some("Rate exceeded for shard \"x\" in stream s".into()),
                    ..Default::default()
                },
                _ => PutRecordsResultEntry {
                    sequence_number: SequenceText::from("not plain: \"").ok(),
                    ..Default::default()
                },
            })
            .collect::<Vec<_>>();
        for n in [0, 1, 9] {
            let out = PutRecordsOutput {
                failed_record_count: 3,
                records: records[..n].to_vec(),
                encryption_type: Some("KMS"),
            };
            let expected = serde_json::to_vec(&out).unwrap();
            assert_eq!(
                String::from_utf8(encode_put_records(&out)).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
