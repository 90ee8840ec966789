//! PutRecord and PutRecords: one path for both. Every entry is checked (size), hashed (its
//! ExplicitHashKey, or the MD5 of its partition key; on AUTO streams, the next open shard in
//! turn, keys optional and ignored), routed to the open shard covering that hash key and encoded (sealed when the stream is encrypted) before anything is written, so one
//! bad entry fails the whole call; then each entry passes its shard's write limit, and the
//! admitted ones are appended, one append per shard in request order.

use std::ops::Range;
use std::time::Instant;

use shardline_log::{Appended, LogError};
use shardline_wire::constraints::missing_partition_keys;
use shardline_wire::shapes::*;
use shardline_wire::validate::{Shown, Violations};
use shardline_wire::{ApiError, ErrorCode};

use crate::catalog::{Stream, StreamRef};
use crate::error::{EngineError, Result, OUT_OF_FILES};
use crate::hashkey::{hash_partition_keys, parse_hash_key};
use crate::limits::rate_exceeded;
use crate::metrics::{self, Enhanced};
use crate::model::{Distribution, ShardMeta};
use crate::payload;
use crate::resolve::{not_found, StreamName};
use crate::seqnum::{self, Classified, SequenceNumber};
use crate::{Caller, Engine};

/// A PutRecords request may carry at most this much data and keys (AWS: 10 MiB).
const PUT_RECORDS_MAX_BYTES: usize = 10 * 1024 * 1024;

/// One record of a put call, as given.
struct PutEntry<'a> {
    key: &'a str,
    data: &'a [u8],
    explicit_hash_key: Option<&'a str>,
}

impl PutEntry<'_> {
    /// What the record counts for against limits and in metrics: data plus partition key.
    fn size(&self) -> u64 {
        (self.key.len() + self.data.len()) as u64
    }
}

/// A call's entries after admission, with their appends under way.
struct Admitted {
    /// Per shard the call wrote to: the shard, its entries (indexes, request order) and the
    /// append.
    batches: Vec<(ShardMeta, Vec<usize>, Result<Appended, LogError>)>,
    /// Entries refused by their shard's write limit, with AWS's message.
    throttled: Vec<(usize, String)>,
    /// Bytes of each entry (data plus partition key).
    sizes: Vec<u64>,
    /// `KMS` while the stream seals what it stores; AWS names no type otherwise.
    encryption: Option<&'static str>,
    enhanced: Enhanced,
}

impl Engine {
    pub async fn put_record(
        &self,
        caller: &Caller,
        input: PutRecordInput,
    ) -> Result<PutRecordOutput> {
        let started = Instant::now();
        let (n, stream) = self.writable_stream(caller, &input)?;
        let distribution = stream.read().meta.distribution;
        match distribution {
            Distribution::UserPartitionKey if input.partition_key.is_none() => {
                return Err(missing_partition_keys(None).into());
            }
            Distribution::Auto if input.sequence_number_for_ordering.is_some() => {
                return Err(ApiError::invalid_argument(format!(
                    "SequenceNumberForOrdering is not supported on stream {} under account {}: it \
                     uses the AUTO record distribution strategy.",
                    n.name, n.account
                ))
                .into());
            }
            _ => {}
        }
        if let Some(seq) = &input.sequence_number_for_ordering {
            // Any number of AWS's layouts will do (it is not checked against the shard).
            if matches!(
                SequenceNumber::classify(seq),
                Classified::Invalid | Classified::Small { .. }
            ) {
                return Err(ApiError::invalid_argument(format!(
                    "ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {} under account {} is invalid.",
                    n.name, n.account
                ))
                .into());
            }
        }
        let entry = PutEntry {
            key: input.partition_key.as_deref().unwrap_or_default(),
            data: input.data.as_ref().map_or(&[][..], |d| &d.0[..]),
            explicit_hash_key: input.explicit_hash_key.as_deref(),
        };
        let size = entry.size();
        let admitted = self.admit_entries(
            &n,
            &stream,
            &[entry],
            |_| "data".to_string(),
            input.dry_run == Some(true),
        )?;
        let series = metrics::of(&n.account, &n.name);
        if let Some((_, message)) = admitted.throttled.into_iter().next() {
            metrics::put_record(series, size, started.elapsed(), false);
            return Err(ApiError::new(ErrorCode::ProvisionedThroughputExceeded, message).into());
        }
        let (shard, _, appended) = admitted
            .batches
            .into_iter()
            .next()
            .ok_or_else(ApiError::internal)?;
        let Appended {
            first_offset,
            timestamp_ms,
            durable,
        } = appended?;
        durable.await?;
        metrics::incoming(series, &shard.id(), 1, size, admitted.enhanced);
        metrics::put_record(series, size, started.elapsed(), true);
        Ok(PutRecordOutput {
            shard_id: shard.id(),
            sequence_number: shard.sequence_number(first_offset, timestamp_ms),
            encryption_type: admitted.encryption,
        })
    }

    pub async fn put_records(
        &self,
        caller: &Caller,
        input: PutRecordsInput,
    ) -> Result<PutRecordsOutput> {
        let started = Instant::now();
        let (n, stream) = self.writable_stream(caller, &input)?;
        let given = input.records.unwrap_or_default();
        if stream.read().meta.distribution == Distribution::UserPartitionKey {
            let missing: Vec<usize> = given
                .iter()
                .enumerate()
                .filter(|(_, e)| e.partition_key.is_none())
                .map(|(i, _)| i + 1)
                .collect();
            if !missing.is_empty() {
                return Err(missing_partition_keys(Some(&missing)).into());
            }
        }
        let entries: Vec<PutEntry<'_>> = given
            .iter()
            .map(|e| PutEntry {
                key: e.partition_key.as_deref().unwrap_or_default(),
                data: e.data.as_ref().map_or(&[][..], |d| &d.0[..]),
                explicit_hash_key: e.explicit_hash_key.as_deref(),
            })
            .collect();
        let Admitted {
            batches,
            throttled,
            sizes,
            encryption,
            enhanced,
        } = self.admit_entries(
            &n,
            &stream,
            &entries,
            |i| format!("records.{}.member.data", i + 1),
            input.dry_run == Some(true),
        )?;

        let series = metrics::of(&n.account, &n.name);
        let mut results = vec![PutRecordsResultEntry::default(); entries.len()];
        let throttled_count = throttled.len() as u64;
        let mut failed = throttled.len() as i64;
        let mut accepted_bytes = 0u64;
        for (i, message) in throttled {
            results[i].error_code = Some("ProvisionedThroughputExceededException".into());
            results[i].error_message = Some(message);
        }
        for (shard, members, result) in batches {
            let outcome = match result {
                Ok(a) => a.durable.await.map(|()| (a.first_offset, a.timestamp_ms)),
                Err(e) => Err(e),
            };
            match outcome {
                Ok((first, ts)) => {
                    let bytes: u64 = members.iter().map(|&i| sizes[i]).sum();
                    accepted_bytes += bytes;
                    metrics::incoming(series, &shard.id(), members.len() as u64, bytes, enhanced);
                    let shard_text = shard.id_text();
                    let mut numbers = seqnum::Formatter::default();
                    for (k, &i) in members.iter().enumerate() {
                        results[i].shard_id = Some(shard_text);
                        results[i].sequence_number =
                            Some(shard.sequence_number_with(&mut numbers, first + k as u64, ts));
                    }
                }
                Err(e) => {
                    // Short of descriptors: the entries are throttled (retried by SDKs and the
                    // KPL); anything else is the service's failure.
                    let (code, message) = match e {
                        LogError::OutOfFiles => {
                            ("ProvisionedThroughputExceededException", OUT_OF_FILES)
                        }
                        e => {
                            tracing::error!(error = %e, shard = shard.id(), "append failed");
                            ("InternalFailure", "Internal service failure.")
                        }
                    };
                    for &i in &members {
                        failed += 1;
                        results[i].error_code = Some(code.into());
                        results[i].error_message = Some(message.into());
                    }
                }
            }
        }
        metrics::put_records(
            series,
            entries.len() as u64,
            entries.len() as u64 - failed as u64,
            throttled_count,
            accepted_bytes,
            started.elapsed(),
        );
        Ok(PutRecordsOutput {
            failed_record_count: failed,
            records: results,
            encryption_type: encryption,
        })
    }

    /// A stream that accepts writes: ACTIVE or UPDATING; otherwise AWS says it is not found.
    fn writable_stream(
        &self,
        caller: &Caller,
        input: &impl NamesStream,
    ) -> Result<(StreamName, StreamRef)> {
        let (n, stream) = self.find_stream(caller, input)?;
        if !stream.read().meta.status(self.clock.now_ms()).is_readable() {
            return Err(not_found(&n.account, &n.name).into());
        }
        Ok((n, stream))
    }

    /// The one path of PutRecord and PutRecords: checks, hashes, routes and encodes every
    /// entry (any bad one fails the call before anything is written), passes each through its
    /// shard's write limit, and starts one append per shard with the admitted entries in
    /// request order. `member` names entry `i` in a size error. With `dry_run`, answers
    /// DryRunOperationException once every check passed.
    fn admit_entries(
        &self,
        n: &StreamName,
        stream: &StreamRef,
        entries: &[PutEntry<'_>],
        member: impl Fn(usize) -> String,
        dry_run: bool,
    ) -> Result<Admitted> {
        let s = stream.read();
        // One buffer for every record's stored payload: no allocation per record.
        let mut arena = Vec::with_capacity(
            entries
                .iter()
                .map(|e| payload::plain_len(e.key, e.data))
                .sum(),
        );
        let auto = s.meta.distribution == Distribution::Auto;
        // The keys of entries without an ExplicitHashKey, hashed together (cheaper per key;
        // see `md5_lanes.rs`), taken in order below. AUTO places records by turns instead,
        // ignoring keys and ExplicitHashKeys.
        let keys: Vec<&str> = if auto {
            Vec::new()
        } else {
            entries
                .iter()
                .filter(|e| e.explicit_hash_key.is_none())
                .map(|e| e.key)
                .collect()
        };
        let mut key_hashes = hash_partition_keys(&keys).into_iter();
        let mut turns = auto.then(|| s.auto_routes(entries.len()));
        let mut routed = Vec::with_capacity(entries.len());
        let mut sizes = Vec::with_capacity(entries.len());
        let mut total = 0u64;
        for (i, e) in entries.iter().enumerate() {
            check_record_size(&s, || member(i), e.key, e.data)?;
            let size = e.size();
            sizes.push(size);
            total += size;
            let hash = match (&mut turns, e.explicit_hash_key) {
                (Some(turns), _) => turns.next().ok_or_else(ApiError::internal)?.1,
                (None, Some(ehk)) => explicit_hash_key(ehk)?,
                (None, None) => key_hashes.next().ok_or_else(ApiError::internal)?,
            };
            routed.push(self.route(&s, hash, e.key, e.data, &mut arena)?);
        }
        if total > PUT_RECORDS_MAX_BYTES as u64 {
            return Err(ApiError::invalid_argument("Records size exceeds 10 MB limit").into());
        }
        // DryRun: every check passed; nothing is throttled or written.
        if dry_run {
            return Err(ApiError::dry_run().into());
        }
        // Group by shard, keeping request order within each shard; entries past a shard's
        // throughput limit fail on their own, as AWS fails them.
        let enhanced = Enhanced::of(&s.meta.shard_level_metrics);
        let series = metrics::of(&n.account, &n.name);
        let mut by_shard: Vec<Vec<usize>> = vec![Vec::new(); s.meta.shards.len()];
        let mut throttled = Vec::new();
        let admitted_at = Instant::now();
        for (i, r) in routed.iter().enumerate() {
            if s.admit_write(r.shard_pos, sizes[i], admitted_at) {
                by_shard[r.shard_pos].push(i);
            } else {
                let shard = &s.meta.shards[r.shard_pos];
                metrics::write_exceeded(series, &shard.id(), 1, enhanced);
                throttled.push((i, rate_exceeded(shard, &n.name, &n.account)));
            }
        }
        let now = self.clock.now_ms();
        let mut batches = Vec::new();
        for (pos, members) in by_shard.into_iter().enumerate() {
            if members.is_empty() {
                continue;
            }
            let payloads: Vec<&[u8]> = members
                .iter()
                .map(|&i| &arena[routed[i].payload.clone()])
                .collect();
            let result = self
                .storage
                .append(s.meta.shards[pos].partition, now, &payloads);
            batches.push((s.meta.shards[pos].clone(), members, result));
        }
        Ok(Admitted {
            batches,
            throttled,
            sizes,
            encryption: s.meta.encryption.is_some().then_some("KMS"),
            enhanced,
        })
    }

    /// Finds the open shard for a record whose hash key is `hash` and encodes its payload
    /// (sealed if the stream is encrypted) onto `payloads`.
    fn route(
        &self,
        s: &Stream,
        hash: u128,
        key: &str,
        data: &[u8],
        payloads: &mut Vec<u8>,
    ) -> Result<Routed> {
        let (shard_pos, _) = s.route(hash).ok_or_else(ApiError::internal)?;
        let start = payloads.len();
        match &s.meta.encryption {
            None => payload::encode_into(payloads, key, data),
            Some(enc) => {
                let data_key = s
                    .meta
                    .data_keys
                    .iter()
                    .find(|k| k.id == enc.data_key)
                    .ok_or_else(ApiError::internal)?;
                let sealed = self
                    .keyring
                    .encrypt(data_key, &payload::encode(key, data))
                    .ok_or_else(ApiError::internal)?;
                payload::encode_sealed_into(payloads, data_key.id, &sealed);
            }
        }
        Ok(Routed {
            shard_pos,
            payload: start..payloads.len(),
        })
    }
}

/// A record ready to append: its shard (position in the stream's shard list) and payload.
struct Routed {
    shard_pos: usize,
    /// Where the record's stored payload is in the call's payload buffer.
    payload: Range<usize>,
}

/// Checks a record against the stream's maximum record size (data plus partition key).
/// `path` names the member in the error; it is only formatted when the record is too big.
fn check_record_size(
    s: &Stream,
    path: impl FnOnce() -> String,
    key: &str,
    data: &[u8],
) -> Result<()> {
    let max = s.meta.max_record_size_kib as usize * 1024;
    if data.len() > max {
        let mut v = Violations::new();
        v.push(
            Shown::Raw(format!(
                "java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]",
                data.len()
            )),
            path(),
            &format!("have length less than or equal to {max}"),
        );
        return Err(v.into_error().unwrap_or_else(ApiError::internal).into());
    }
    if data.len() + key.len() > max {
        return Err(ApiError::invalid_argument(format!(
            "Record size {} exceeds the maximum record size of {max} bytes, including the partition key.",
            data.len() + key.len()
        ))
        .into());
    }
    Ok(())
}

/// A record's ExplicitHashKey as a hash key, or AWS's error for one out of range.
fn explicit_hash_key(ehk: &str) -> Result<u128> {
    parse_hash_key(ehk).ok_or_else(|| {
        EngineError::from(ApiError::invalid_argument(format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {ehk}"
        )))
    })
}
