//! The KPL's aggregation format: many user records in one Kinesis record, as the Kinesis
//! Producer Library writes them and the KCL reads them.
//!
//! ```text
//! [F3 89 9A C2][AggregatedRecord, protobuf][MD5 of the protobuf bytes (16)]
//!
//! message AggregatedRecord {
//!   repeated string partition_key_table     = 1;
//!   repeated string explicit_hash_key_table = 2;
//!   repeated Record records                 = 3;
//! }
//! message Record {
//!   required uint64 partition_key_index     = 1;
//!   optional uint64 explicit_hash_key_index = 2;
//!   required bytes  data                    = 3;
//!   repeated Tag    tags                    = 4;
//! }
//! message Tag { required string key = 1; optional string value = 2; }
//! ```
//!
//! An aggregate is sent with the partition key `"a"` and, as its explicit hash key, the hash key
//! (decimal) of its first user record, so it lands where that record would; a container of one
//! user record is sent as that record alone. A Kinesis record that does not start with the magic,
//! or whose digest does not match, is an ordinary record. A consumer gives the user records of
//! an aggregate the aggregate's sequence number and their index in it as sub-sequence number.

use std::collections::HashMap;

/// Partition keys are many and short: a fast hash (this builds records, it serves no one).
type KeyMap = HashMap<String, u64, foldhash::fast::RandomState>;

use bytes::Bytes;
use md5::{Digest, Md5};
use prost::Message;

/// The first four bytes of an aggregated record.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
/// The magic and the trailing MD5 digest.
pub const OVERHEAD: usize = MAGIC.len() + 16;
/// The partition key an aggregate is sent with (its records carry their own).
pub const AGGREGATE_PARTITION_KEY: &str = "a";

#[derive(Clone, PartialEq, Message)]
pub struct AggregatedRecord {
    #[prost(string, repeated, tag = "1")]
    pub partition_key_table: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub explicit_hash_key_table: Vec<String>,
    #[prost(message, repeated, tag = "3")]
    pub records: Vec<Record>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Record {
    #[prost(uint64, required, tag = "1")]
    pub partition_key_index: u64,
    #[prost(uint64, optional, tag = "2")]
    pub explicit_hash_key_index: Option<u64>,
    #[prost(bytes = "bytes", required, tag = "3")]
    pub data: Bytes,
    #[prost(message, repeated, tag = "4")]
    pub tags: Vec<Tag>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Tag {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// One user record as a producer hands it in or a consumer gets it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub partition_key: String,
    /// Routes the record by this hash key (decimal) instead of its partition key's MD5.
    pub explicit_hash_key: Option<String>,
    pub data: Bytes,
}

impl UserRecord {
    pub fn new(partition_key: impl Into<String>, data: impl Into<Bytes>) -> UserRecord {
        UserRecord {
            partition_key: partition_key.into(),
            explicit_hash_key: None,
            data: data.into(),
        }
    }

    pub fn with_explicit_hash_key(mut self, key: impl Into<String>) -> UserRecord {
        self.explicit_hash_key = Some(key.into());
        self
    }
}

/// Builds one aggregated record, keeping count of the bytes it will take. Records are encoded
/// as they come (their protobuf entries appended to one buffer); the key tables are written in
/// front of them at the end.
#[derive(Default)]
pub struct Aggregate {
    /// Partition keys by first appearance, and their index.
    partition_keys: KeyMap,
    explicit_hash_keys: KeyMap,
    /// Bytes the two key tables take, encoded.
    tables_len: usize,
    /// The `records` entries (field 3), encoded.
    records: Vec<u8>,
    count: usize,
    /// The first record's data and partition key, sent alone if it stays alone.
    first: Option<(Bytes, String)>,
}

/// Bytes a length-delimited protobuf field of `len` bytes takes with a one-byte tag.
fn field_len(len: usize) -> usize {
    1 + prost::encoding::encoded_len_varint(len as u64) + len
}

/// Where a record's keys stand in an aggregate's tables, and what adding it costs.
struct Placement {
    pk_index: u64,
    pk_new: bool,
    ehk: Option<(u64, bool)>,
    /// Length of the record's protobuf entry (without its field-3 tag and length).
    entry_len: usize,
    /// Bytes the aggregate grows by: the entry with its tag and length, and new table keys.
    added: usize,
}

impl Aggregate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The protobuf body's length so far.
    fn body_len(&self) -> usize {
        self.tables_len + self.records.len()
    }

    /// What the Kinesis record would take (data plus the partition key it is sent with): the
    /// user record alone while there is one, the aggregate with magic and digest after.
    pub fn size(&self) -> usize {
        match (&self.first, self.count) {
            (_, 0) => 0,
            (Some((data, pk)), 1) => data.len() + pk.len(),
            _ => OVERHEAD + self.body_len() + AGGREGATE_PARTITION_KEY.len(),
        }
    }

    /// What [`Aggregate::size`] would become with `record` added.
    pub fn size_with(&self, record: &UserRecord) -> usize {
        if self.is_empty() {
            return record.data.len() + record.partition_key.len();
        }
        OVERHEAD + self.body_len() + self.place(record).added + AGGREGATE_PARTITION_KEY.len()
    }

    fn place(&self, record: &UserRecord) -> Placement {
        let mut added = 0;
        let (pk_index, pk_new) = match self.partition_keys.get(record.partition_key.as_str()) {
            Some(i) => (*i, false),
            None => {
                added += field_len(record.partition_key.len());
                (self.partition_keys.len() as u64, true)
            }
        };
        let mut entry_len =
            1 + prost::encoding::encoded_len_varint(pk_index) + field_len(record.data.len());
        let ehk = record.explicit_hash_key.as_ref().map(|ehk| {
            let (index, new) = match self.explicit_hash_keys.get(ehk.as_str()) {
                Some(i) => (*i, false),
                None => {
                    added += field_len(ehk.len());
                    (self.explicit_hash_keys.len() as u64, true)
                }
            };
            entry_len += 1 + prost::encoding::encoded_len_varint(index);
            (index, new)
        });
        Placement {
            pk_index,
            pk_new,
            ehk,
            entry_len,
            added: added + field_len(entry_len),
        }
    }

    /// Adds a user record (the caller checked [`Aggregate::size_with`] against its limit).
    pub fn push(&mut self, record: &UserRecord) {
        self.push_placed(record, self.place(record));
    }

    /// Adds `record` if the aggregate stays within `max_size` bytes (see [`Aggregate::size`])
    /// with it; an empty aggregate takes any record.
    pub fn try_push(&mut self, record: &UserRecord, max_size: usize) -> bool {
        if self.is_empty() {
            self.push(record);
            return true;
        }
        let placement = self.place(record);
        if OVERHEAD + self.body_len() + placement.added + AGGREGATE_PARTITION_KEY.len() > max_size {
            return false;
        }
        self.push_placed(record, placement);
        true
    }

    fn push_placed(&mut self, record: &UserRecord, p: Placement) {
        use prost::encoding::{encode_key, encode_varint, WireType};
        if p.pk_new {
            self.partition_keys
                .insert(record.partition_key.clone(), p.pk_index);
            self.tables_len += field_len(record.partition_key.len());
        }
        if let (Some(ehk), Some((index, true))) = (&record.explicit_hash_key, p.ehk) {
            self.explicit_hash_keys.insert(ehk.clone(), index);
            self.tables_len += field_len(ehk.len());
        }
        let out = &mut self.records;
        out.reserve(p.added);
        encode_key(3, WireType::LengthDelimited, out);
        encode_varint(p.entry_len as u64, out);
        encode_key(1, WireType::Varint, out);
        encode_varint(p.pk_index, out);
        if let Some((index, _)) = p.ehk {
            encode_key(2, WireType::Varint, out);
            encode_varint(index, out);
        }
        encode_key(3, WireType::LengthDelimited, out);
        encode_varint(record.data.len() as u64, out);
        out.extend_from_slice(&record.data);
        self.count += 1;
        if self.first.is_none() {
            self.first = Some((record.data.clone(), record.partition_key.clone()));
        }
    }

    /// The Kinesis record's data: the lone user record's data, or the aggregate framed.
    pub fn encode(&self) -> Vec<u8> {
        use prost::encoding::{encode_key, encode_varint, WireType};
        if let (Some((data, _)), 1) = (&self.first, self.count) {
            return data.to_vec();
        }
        let mut out = Vec::with_capacity(OVERHEAD + self.body_len());
        out.extend_from_slice(&MAGIC);
        for (field, table) in [(1, &self.partition_keys), (2, &self.explicit_hash_keys)] {
            let mut keys: Vec<(&String, &u64)> = table.iter().collect();
            keys.sort_unstable_by_key(|(_, i)| **i);
            for (key, _) in keys {
                encode_key(field, WireType::LengthDelimited, &mut out);
                encode_varint(key.len() as u64, &mut out);
                out.extend_from_slice(key.as_bytes());
            }
        }
        out.extend_from_slice(&self.records);
        let digest = Md5::digest(&out[MAGIC.len()..]);
        out.extend_from_slice(&digest);
        out
    }

    /// The partition key the Kinesis record is sent with: the lone record's, or `"a"`.
    pub fn partition_key(&self) -> &str {
        match (&self.first, self.count) {
            (Some((_, pk)), 1) => pk,
            _ => AGGREGATE_PARTITION_KEY,
        }
    }
}

/// The user records of a Kinesis record's data: those of an aggregate, or `None` when it is
/// not one (no magic, a digest that does not match, or a protobuf that does not decode), in
/// which case the record is itself the one user record.
pub fn deaggregate(data: &[u8]) -> Option<Vec<UserRecord>> {
    if data.len() < OVERHEAD || data[..MAGIC.len()] != MAGIC {
        return None;
    }
    let (body, digest) = data[MAGIC.len()..].split_at(data.len() - OVERHEAD);
    if Md5::digest(body).as_slice() != digest {
        return None;
    }
    let message = AggregatedRecord::decode(body).ok()?;
    message
        .records
        .into_iter()
        .map(|r| {
            let partition_key = message
                .partition_key_table
                .get(usize::try_from(r.partition_key_index).ok()?)?
                .clone();
            let explicit_hash_key = match r.explicit_hash_key_index {
                Some(i) => Some(
                    message
                        .explicit_hash_key_table
                        .get(usize::try_from(i).ok()?)?
                        .clone(),
                ),
                None => None,
            };
            Some(UserRecord {
                partition_key,
                explicit_hash_key,
                data: r.data,
            })
        })
        .collect()
}

/// The hash key of a partition key: the MD5 digest of its UTF-8 bytes as a big-endian number.
pub fn hash_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

impl UserRecord {
    /// Where the record routes: its explicit hash key, else its partition key's hash.
    /// `None` for an explicit hash key that is not a number below 2^128.
    pub fn effective_hash_key(&self) -> Option<u128> {
        match &self.explicit_hash_key {
            Some(ehk) => ehk.parse().ok(),
            None => Some(hash_key(&self.partition_key)),
        }
    }
}

/// What a Kinesis record holds, seen from the shard it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unpacked {
    /// Not an aggregate: the record is itself the one user record.
    Plain,
    /// The user records of an aggregate; the `n`th has sub-sequence number `n`.
    Aggregate(Vec<UserRecord>),
    /// An aggregate holding a user record whose hash key is outside the shard's range: it
    /// landed there on a stale shard map, and the producer put its records again where they
    /// belong. Dropped whole, as the KCL drops it.
    Foreign { records: usize },
}

/// Unpacks a Kinesis record read from a shard whose hash-key range is `range` (inclusive);
/// with `None`, no user record is foreign.
pub fn unpack(data: &[u8], range: Option<(u128, u128)>) -> Unpacked {
    let Some(records) = deaggregate(data) else {
        return Unpacked::Plain;
    };
    if let Some((start, end)) = range {
        let inside = |r: &UserRecord| {
            r.effective_hash_key()
                .is_some_and(|h| start <= h && h <= end)
        };
        if !records.iter().all(inside) {
            return Unpacked::Foreign {
                records: records.len(),
            };
        }
    }
    Unpacked::Aggregate(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record() -> impl Strategy<Value = UserRecord> {
        (
            "[a-z]{1,6}",
            proptest::option::of("[0-9]{1,39}"),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(pk, ehk, data)| UserRecord {
                partition_key: pk,
                explicit_hash_key: ehk,
                data: Bytes::from(data),
            })
    }

    proptest! {
        #[test]
        fn aggregates_round_trip_and_their_size_is_exact(records in proptest::collection::vec(record(), 1..40)) {
            let mut agg = Aggregate::new();
            for r in &records {
                let predicted = agg.size_with(r);
                agg.push(r);
                prop_assert_eq!(agg.size(), predicted);
            }
            let data = agg.encode();
            prop_assert_eq!(data.len() + agg.partition_key().len(), agg.size());
            if records.len() == 1 {
                prop_assert_eq!(&data[..], &records[0].data[..]);
                prop_assert_eq!(agg.partition_key(), records[0].partition_key.as_str());
            } else {
                // The streaming encoder writes what prost writes for the same message.
                let mut message = AggregatedRecord::default();
                let mut pks: Vec<String> = Vec::new();
                let mut ehks: Vec<String> = Vec::new();
                for r in &records {
                    let pk = pks.iter().position(|k| *k == r.partition_key).unwrap_or_else(|| {
                        pks.push(r.partition_key.clone());
                        pks.len() - 1
                    });
                    let ehk = r.explicit_hash_key.as_ref().map(|e| {
                        ehks.iter().position(|k| k == e).unwrap_or_else(|| {
                            ehks.push(e.clone());
                            ehks.len() - 1
                        }) as u64
                    });
                    message.records.push(Record {
                        partition_key_index: pk as u64,
                        explicit_hash_key_index: ehk,
                        data: r.data.clone(),
                        tags: Vec::new(),
                    });
                }
                message.partition_key_table = pks;
                message.explicit_hash_key_table = ehks;
                prop_assert_eq!(&data[4..data.len() - 16], &message.encode_to_vec()[..]);
                prop_assert_eq!(deaggregate(&data), Some(records));
            }
        }

        #[test]
        fn try_push_keeps_within_the_limit(records in proptest::collection::vec(record(), 1..60), limit in 40usize..400) {
            let mut agg = Aggregate::new();
            let mut taken = 0;
            for r in &records {
                if agg.try_push(r, limit) {
                    taken += 1;
                } else {
                    break;
                }
            }
            prop_assert!(taken >= 1);
            prop_assert!(taken == 1 || agg.size() <= limit, "{} > {}", agg.size(), limit);
            prop_assert_eq!(agg.len(), taken);
        }

        #[test]
        fn damage_is_an_ordinary_record_never_a_panic(data in proptest::collection::vec(any::<u8>(), 0..200), flip in any::<usize>()) {
            let _ = deaggregate(&data);
            let mut agg = Aggregate::new();
            for pk in ["a", "b"] {
                agg.push(&UserRecord { partition_key: pk.into(), explicit_hash_key: None, data: Bytes::from(data.clone()) });
            }
            let mut framed = agg.encode();
            let i = flip % framed.len();
            framed[i] ^= 0x01;
            // A flipped bit anywhere breaks the magic, the digest, or the body the digest covers.
            prop_assert_eq!(deaggregate(&framed), None);
        }
    }

    #[test]
    fn an_aggregate_with_a_foreign_record_is_dropped_whole() {
        let mut agg = Aggregate::new();
        for pk in ["a", "b", "c"] {
            agg.push(&UserRecord {
                partition_key: pk.into(),
                explicit_hash_key: None,
                data: Bytes::from_static(b"x"),
            });
        }
        let data = agg.encode();
        let hashes: Vec<u128> = ["a", "b", "c"].iter().map(|k| hash_key(k)).collect();
        let (lo, hi) = (*hashes.iter().min().unwrap(), *hashes.iter().max().unwrap());
        assert!(matches!(unpack(&data, Some((lo, hi))), Unpacked::Aggregate(r) if r.len() == 3));
        assert_eq!(
            unpack(&data, Some((lo, hi - 1))),
            Unpacked::Foreign { records: 3 }
        );
        assert!(matches!(unpack(&data, None), Unpacked::Aggregate(_)));
        assert_eq!(unpack(b"plain", Some((0, 0))), Unpacked::Plain);
        // The AWS documentation's example: MD5("a") as a number.
        assert_eq!(hash_key("a"), 16955237001963240173058271559858726497);
    }

    #[test]
    fn the_framing_is_the_kpls() {
        let mut agg = Aggregate::new();
        for (pk, data) in [("p1", &b"one"[..]), ("p2", b"two"), ("p1", b"three")] {
            agg.push(&UserRecord {
                partition_key: pk.into(),
                explicit_hash_key: None,
                data: Bytes::copy_from_slice(data),
            });
        }
        let data = agg.encode();
        // What AWS's reference aggregator (aws-kinesis-agg 1.2.3, Python) writes for these three.
        let golden = "f3899ac20a0270310a0270321a0708001a036f6e651a0708011a0374776f1a0908001a05\
                      7468726565b2a01ccf432d48c43aa911cfd44e4f11";
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, golden);
        assert_eq!(&data[..4], &[0xF3, 0x89, 0x9A, 0xC2]);
        let body = &data[4..data.len() - 16];
        assert_eq!(&data[data.len() - 16..], Md5::digest(body).as_slice());
        // Field 1 (partition_key_table), length-delimited: 0x0A, then "p1".
        assert_eq!(&body[..4], &[0x0A, 0x02, b'p', b'1']);
        assert_eq!(agg.partition_key(), "a");
        let out = deaggregate(&data).unwrap();
        assert_eq!(
            out.iter()
                .map(|r| r.partition_key.as_str())
                .collect::<Vec<_>>(),
            ["p1", "p2", "p1"]
        );
    }
}
