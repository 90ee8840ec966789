//! GetShardIterator: a shard and a position (TRIM_HORIZON, LATEST, AT/AFTER_SEQUENCE_NUMBER,
//! AT_TIMESTAMP) become a sealed iterator naming the partition and offset to read from.

use shardline_wire::shapes::*;
use shardline_wire::{ApiError, ErrorCode, Timestamp};

use crate::error::Result;
use crate::iterator_token::ShardIterator;
use crate::limits::rate_exceeded;
use crate::model::{parse_shard_id, shard_id, ShardMeta};
use crate::resolve::StreamName;
use crate::seqnum::{Classified, SequenceNumber};
use crate::{Caller, Engine};

impl Engine {
    pub fn get_shard_iterator(
        &self,
        caller: &Caller,
        input: GetShardIteratorInput,
    ) -> Result<GetShardIteratorOutput> {
        let given_id = input.shard_id.as_deref().unwrap_or_default();
        let n = self.stream_name(caller, &input)?;
        let index = parse_shard_id(given_id).ok_or_else(|| {
            ApiError::resource_not_found(format!(
                "Could not find shard {given_id} in stream {} under account {}.",
                n.name, n.account
            ))
        })?;
        let now = self.clock.now_ms();
        let missing = || {
            ApiError::resource_not_found(format!(
                "Shard {} in stream {} under account {} does not exist",
                shard_id(index),
                n.name,
                n.account
            ))
        };
        let stream = self.catalog.get(&n.account, &n.name).ok_or_else(missing)?;
        let s = stream.read();
        if !s.meta.status(now).is_readable() {
            return Err(missing().into());
        }
        let shard = s.shard(index).ok_or_else(missing)?.clone();
        if !s.limiter(index as usize).admit_iterator() {
            return Err(ApiError::new(
                ErrorCode::ProvisionedThroughputExceeded,
                rate_exceeded(&shard, &n.name, &n.account),
            )
            .into());
        }
        drop(s);

        let retention_ms = stream.read().meta.retention_ms();
        let offset = self.starting_offset(
            &n,
            &shard,
            retention_ms,
            input.shard_iterator_type.as_deref().unwrap_or_default(),
            input.starting_sequence_number.as_deref(),
            input.timestamp,
            now,
        )?;
        if input.dry_run == Some(true) {
            return Err(ApiError::dry_run().into());
        }
        Ok(GetShardIteratorOutput {
            shard_iterator: self.iterator(&n.account, &n.name, &shard, offset, now),
        })
    }

    /// Where an iterator (or a subscription) of a given type starts, with AWS's checks.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn starting_offset(
        &self,
        n: &StreamName,
        shard: &ShardMeta,
        retention_ms: u64,
        kind: &str,
        seq: Option<&str>,
        timestamp: Option<Timestamp>,
        now: u64,
    ) -> Result<u64> {
        let both = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and \
                    StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no \
                    StartingSequenceNumber. Request specified";
        let bounds = self.storage.bounds(shard.partition)?;
        Ok(match (kind, seq) {
            ("TRIM_HORIZON" | "LATEST", Some(_)) => {
                return Err(ApiError::invalid_argument(format!(
                    "{both} {kind} and also a StartingSequenceNumber."
                ))
                .into())
            }
            ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
                return Err(ApiError::invalid_argument(format!(
                    "{both} {kind} and no StartingSequenceNumber."
                ))
                .into())
            }
            ("TRIM_HORIZON", None) => self.trim_horizon(shard, retention_ms, now)?,
            ("LATEST", None) => bounds.end,
            ("AT_TIMESTAMP", _) => {
                let ts = timestamp.ok_or_else(|| {
                    ApiError::invalid_argument(
                        "Must specify timestampInMillis parameter for iterator of type \
                         AT_TIMESTAMP. Current request has no timestamp parameter.",
                    )
                })?;
                if ts.millis > now as i64 {
                    return Err(ApiError::invalid_argument(format!(
                        "The timestampInMillis parameter cannot be greater than the \
                         currentTimestampInMillis. timestampInMillis: {}, \
                         currentTimestampInMillis: {now}",
                        ts.millis
                    ))
                    .into());
                }
                let from = (ts.millis.max(0) as u64).max(now.saturating_sub(retention_ms));
                self.storage.offset_at_time(shard.partition, from)?
            }
            (_, Some(seq)) => {
                // Position p is the record at offset p - 1 (see ShardMeta::sequence_number).
                let position = self.sequence_position(n, shard, seq)?;
                let offset = if kind == "AFTER_SEQUENCE_NUMBER" {
                    position
                } else {
                    position.saturating_sub(1)
                };
                offset.min(bounds.end)
            }
            _ => {
                return Err(
                    ApiError::invalid_argument(format!("Invalid ShardIteratorType {kind}")).into(),
                )
            }
        })
    }

    /// The offset a StartingSequenceNumber points at, after AWS's checks that it is one of
    /// this shard's numbers.
    fn sequence_position(&self, n: &StreamName, shard: &ShardMeta, seq: &str) -> Result<u64> {
        let invalid = |why: &str| {
            ApiError::invalid_argument(format!(
                "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {} under account {} is invalid{why}.",
                shard.id(),
                n.name,
                n.account
            ))
        };
        // The index a number names, signed as AWS reads it (and prints it: `shardId--02147483648`).
        let other_shard = |index: i32| {
            ApiError::invalid_argument(format!(
                "Invalid StartingSequenceNumber. It encodes shardId-{index:012}, while it was used in a call to a shard with {}",
                shard.id()
            ))
        };
        let ours = i32::try_from(shard.index).ok();
        match SequenceNumber::classify(seq) {
            Classified::Invalid => Err(invalid("").into()),
            Classified::Small { shard_index } | Classified::Foreign { shard_index }
                if Some(shard_index) != ours =>
            {
                Err(other_shard(shard_index).into())
            }
            // AWS's oldest layout naming this very shard: AWS fails inside, and says no more.
            Classified::Small { .. } => Err(ApiError::bare(ErrorCode::InternalFailure).into()),
            Classified::Foreign { .. } => {
                Err(invalid(" because it did not come from this stream").into())
            }
            Classified::Ours(parsed) if parsed.shard_index != shard.index => {
                Err(other_shard(parsed.shard_index as i32).into())
            }
            Classified::Ours(parsed) if parsed.shard_create_secs != shard.created_ms / 1000 => {
                Err(invalid(" because it did not come from this stream").into())
            }
            Classified::Ours(parsed) => Ok(parsed.position),
        }
    }

    /// The oldest offset still within retention.
    fn trim_horizon(&self, shard: &ShardMeta, retention_ms: u64, now: u64) -> Result<u64> {
        Ok(self
            .storage
            .offset_at_time(shard.partition, now.saturating_sub(retention_ms))?)
    }

    pub(crate) fn iterator(
        &self,
        account: &str,
        stream: &str,
        shard: &ShardMeta,
        offset: u64,
        now: u64,
    ) -> String {
        ShardIterator {
            created_ms: now,
            partition: shard.partition,
            offset,
            shard_index: shard.index,
            account: account.to_string(),
            stream: stream.to_string(),
        }
        .seal(&self.sealer)
    }
}
