//! Stored entries back into Kinesis records: the payload's partition key and data, decrypted
//! when the record was sealed, with its sequence number and arrival time.

use bytes::Bytes;
use shardline_log::Entry;
use shardline_wire::shapes::*;
use shardline_wire::{Blob, Timestamp};

use crate::encryption::DataKey;
use crate::error::{EngineError, Result};
use crate::model::ShardMeta;
use crate::payload;
use crate::seqnum;
use crate::Engine;

impl Engine {
    /// Turns stored entries into Kinesis records, decrypting sealed ones.
    pub(crate) fn to_records(
        &self,
        shard: &ShardMeta,
        keys: &[DataKey],
        entries: &[Entry],
    ) -> Result<Vec<Record>> {
        let corrupt = |e: &Entry, detail: &'static str| EngineError::UnreadableRecord {
            partition: shard.partition,
            offset: e.offset,
            detail,
        };
        let mut numbers = seqnum::Formatter::default();
        entries
            .iter()
            .map(|e| {
                let (plain, encryption_type) = match payload::classify(&e.payload) {
                    Some(payload::Stored::Plain(p)) => (p.clone(), None),
                    Some(payload::Stored::Sealed { key_id, sealed }) => {
                        let key = keys
                            .iter()
                            .find(|k| k.id == key_id)
                            .ok_or_else(|| corrupt(e, "unknown data key"))?;
                        let plain = self
                            .keyring
                            .decrypt(key, sealed)
                            .ok_or_else(|| corrupt(e, "record does not decrypt"))?;
                        (Bytes::from(plain), Some("KMS"))
                    }
                    None => return Err(corrupt(e, "unreadable record payload")),
                };
                let (partition_key, data) = payload::decode(&plain)
                    .ok_or_else(|| corrupt(e, "unreadable record payload"))?;
                Ok(Record {
                    sequence_number: shard.sequence_number_with(
                        &mut numbers,
                        e.offset,
                        e.timestamp_ms,
                    ),
                    approximate_arrival_timestamp: Timestamp::from_millis(e.timestamp_ms as i64),
                    data: Blob(data),
                    partition_key,
                    encryption_type,
                })
            })
            .collect()
    }
}
