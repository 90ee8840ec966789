//! The data path: PutRecord(s) route by hash key and append to the shard's partition;
//! GetShardIterator and GetRecords turn positions into sealed iterators and back.

use shardline_log::{Appended, Entry, LogError};
use shardline_wire::shapes::*;
use shardline_wire::validate::{Shown, Violations};
use shardline_wire::{ApiError, Blob, ErrorCode, Timestamp};

use std::ops::Range;
use std::time::Instant;

use bytes::Bytes;

use crate::catalog::{Stream, StreamRef};
use crate::clock::java_date;
use crate::control::encryption_type;
use crate::encryption::DataKey;
use crate::error::Result;
use crate::hashkey::{hash_partition_key, hash_partition_keys, parse_hash_key};
use crate::iterator::ShardIterator;
use crate::model::{parse_shard_id, shard_id, ShardMeta};
use crate::observe;
use crate::records;
use crate::resolve::not_found;
use crate::seqnum::{self, SequenceNumber};
use crate::{Caller, Engine};

/// GetRecords returns at most this much data a call (AWS: 10 MiB).
const GET_RECORDS_MAX_BYTES: usize = 10 * 1024 * 1024;
const GET_RECORDS_MAX_COUNT: usize = 10_000;
/// A PutRecords request may carry at most this much data and keys (AWS: 10 MiB).
const PUT_RECORDS_MAX_BYTES: usize = 10 * 1024 * 1024;

/// A record ready to append: its shard (position in the stream's shard list) and payload.
struct Routed {
    shard_pos: usize,
    /// Where the record's stored payload is in the call's payload buffer.
    payload: Range<usize>,
}

impl Engine {
    pub async fn put_record(
        &self,
        caller: &Caller,
        input: PutRecordInput,
    ) -> Result<PutRecordOutput> {
        let started = Instant::now();
        let (n, stream) = self.writable_stream(caller, &input)?;
        let partition_key = input.partition_key.unwrap_or_default();
        let data = input.data.unwrap_or_default();
        if let Some(seq) = &input.sequence_number_for_ordering {
            if SequenceNumber::parse(seq).is_none() {
                return Err(ApiError::invalid_argument(format!(
                    "ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {} under account {} is invalid.",
                    n.name, n.account
                ))
                .into());
            }
        }
        let (shard, appended, encryption, enhanced) = {
            let s = stream.read();
            let enhanced = observe::Enhanced::of(&s.meta.shard_level_metrics);
            check_record_size(&s, || "data".to_string(), &partition_key, &data.0)?;
            let mut payloads = Vec::with_capacity(records::plain_len(&partition_key, &data.0));
            let hash = match input.explicit_hash_key.as_deref() {
                Some(ehk) => explicit_hash_key(ehk)?,
                None => hash_partition_key(&partition_key),
            };
            let routed = self.route(&s, hash, &partition_key, &data.0, &mut payloads)?;
            let shard = s.meta.shards[routed.shard_pos].clone();
            let size = (partition_key.len() + data.len()) as u64;
            if !s.admit_write(routed.shard_pos, size, Instant::now()) {
                observe::write_exceeded(observe::of(&n.account, &n.name), &shard.id(), 1, enhanced);
                observe::put_record(
                    observe::of(&n.account, &n.name),
                    size,
                    started.elapsed(),
                    false,
                );
                return Err(ApiError::new(
                    ErrorCode::ProvisionedThroughputExceeded,
                    rate_exceeded(&shard, &n.name, &n.account),
                )
                .into());
            }
            let appended = self.storage.append(
                shard.partition,
                self.clock.now_ms(),
                &[&payloads[routed.payload]],
            )?;
            (shard, appended, encryption_type(&s.meta), enhanced)
        };
        let Appended {
            first_offset,
            timestamp_ms,
            durable,
        } = appended;
        durable.await?;
        let size = (partition_key.len() + data.len()) as u64;
        observe::incoming(
            observe::of(&n.account, &n.name),
            &shard.id(),
            1,
            size,
            enhanced,
        );
        observe::put_record(
            observe::of(&n.account, &n.name),
            size,
            started.elapsed(),
            true,
        );
        Ok(PutRecordOutput {
            shard_id: shard.id(),
            sequence_number: shard.sequence_number(first_offset, timestamp_ms),
            encryption_type: encryption.into(),
        })
    }

    pub async fn put_records(
        &self,
        caller: &Caller,
        input: PutRecordsInput,
    ) -> Result<PutRecordsOutput> {
        let started = Instant::now();
        let (n, stream) = self.writable_stream(caller, &input)?;
        let entries = input.records.unwrap_or_default();
        // Validate everything first: a bad entry fails the whole call, nothing written.
        let mut total = 0usize;
        let mut throttled: Vec<(usize, String)> = Vec::new();
        // Only the shards this call touches are kept past the lock.
        let (batches, encryption, enhanced) = {
            let s = stream.read();
            let mut routed = Vec::with_capacity(entries.len());
            // One buffer for every record's stored payload: no allocation per record.
            let mut arena = Vec::with_capacity(
                entries
                    .iter()
                    .map(|e| {
                        let key = e.partition_key.as_deref().unwrap_or_default();
                        records::plain_len(key, e.data.as_ref().map_or(&[][..], |d| &d.0[..]))
                    })
                    .sum(),
            );
            // The keys of entries without an ExplicitHashKey, hashed together (cheaper per
            // key; see `md5_lanes.rs`), taken in order below.
            let keys: Vec<&str> = entries
                .iter()
                .filter(|e| e.explicit_hash_key.is_none())
                .map(|e| e.partition_key.as_deref().unwrap_or_default())
                .collect();
            let mut key_hashes = hash_partition_keys(&keys).into_iter();
            for (i, e) in entries.iter().enumerate() {
                let key = e.partition_key.as_deref().unwrap_or_default();
                let data = e.data.as_ref().map_or(&[][..], |d| &d.0[..]);
                let path = || format!("records.{}.member.data", i + 1);
                check_record_size(&s, path, key, data)?;
                total += key.len() + data.len();
                let hash = match e.explicit_hash_key.as_deref() {
                    Some(ehk) => explicit_hash_key(ehk)?,
                    None => key_hashes.next().ok_or_else(ApiError::internal)?,
                };
                routed.push(self.route(&s, hash, key, data, &mut arena)?);
            }
            if total > PUT_RECORDS_MAX_BYTES {
                return Err(ApiError::invalid_argument("Records size exceeds 10 MB limit").into());
            }
            // Group by shard, keeping request order within each shard; entries past a shard's
            // throughput limit fail on their own, as AWS fails them.
            let mut by_shard: Vec<Vec<usize>> = vec![Vec::new(); s.meta.shards.len()];
            let enhanced = observe::Enhanced::of(&s.meta.shard_level_metrics);
            let admitted_at = Instant::now();
            for (i, r) in routed.iter().enumerate() {
                let e = &entries[i];
                let size = e.partition_key.as_deref().map_or(0, str::len)
                    + e.data.as_ref().map_or(0, |d| d.len());
                if s.admit_write(r.shard_pos, size as u64, admitted_at) {
                    by_shard[r.shard_pos].push(i);
                } else {
                    let shard = &s.meta.shards[r.shard_pos];
                    observe::write_exceeded(
                        observe::of(&n.account, &n.name),
                        &shard.id(),
                        1,
                        enhanced,
                    );
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
            (batches, encryption_type(&s.meta), enhanced)
        };

        let mut results = vec![PutRecordsResultEntry::default(); entries.len()];
        let throttled_count = throttled.len() as u64;
        let mut failed = throttled.len() as i64;
        let mut accepted_bytes = 0u64;
        let size = |i: usize| {
            let e = &entries[i];
            (e.partition_key.as_deref().map_or(0, str::len)
                + e.data.as_ref().map_or(0, |d| d.len())) as u64
        };
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
                    let bytes: u64 = members.iter().map(|&i| size(i)).sum();
                    accepted_bytes += bytes;
                    let shard_id = shard.id();
                    observe::incoming(
                        observe::of(&n.account, &n.name),
                        &shard_id,
                        members.len() as u64,
                        bytes,
                        enhanced,
                    );
                    let shard_text = shard.id_text();
                    let mut numbers = seqnum::Formatter::default();
                    for (k, &i) in members.iter().enumerate() {
                        results[i].shard_id = Some(shard_text);
                        results[i].sequence_number =
                            Some(shard.sequence_number_with(&mut numbers, first + k as u64, ts));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, shard = shard.id(), "append failed");
                    for &i in &members {
                        failed += 1;
                        results[i].error_code = Some("InternalFailure".into());
                        results[i].error_message = Some("Internal service failure.".into());
                    }
                }
            }
        }
        observe::put_records(
            observe::of(&n.account, &n.name),
            entries.len() as u64,
            entries.len() as u64 - failed as u64,
            throttled_count,
            accepted_bytes,
            started.elapsed(),
        );
        Ok(PutRecordsOutput {
            failed_record_count: failed,
            records: results,
            encryption_type: encryption.into(),
        })
    }

    /// A stream that accepts writes: ACTIVE or UPDATING; otherwise AWS says it is not found.
    fn writable_stream(
        &self,
        caller: &Caller,
        input: &impl NamesStream,
    ) -> Result<(crate::resolve::StreamName, StreamRef)> {
        let (n, stream) = self.find_stream(caller, input)?;
        if !stream.read().meta.status(self.clock.now_ms()).is_readable() {
            return Err(not_found(&n.account, &n.name).into());
        }
        Ok((n, stream))
    }

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
        Ok(GetShardIteratorOutput {
            shard_iterator: self.iterator(&n.account, &n.name, &shard, offset, now),
        })
    }

    /// Reads a shard's records from `from`, skipping any past retention not yet trimmed.
    pub(crate) fn read_shard(
        &self,
        shard: &ShardMeta,
        from: u64,
        limit: usize,
        max_bytes: usize,
        retention_ms: u64,
        now: u64,
    ) -> Result<Vec<Entry>> {
        let cutoff = now.saturating_sub(retention_ms);
        let mut entries = self.storage.read(shard.partition, from, limit, max_bytes)?;
        if entries.first().is_some_and(|e| e.timestamp_ms < cutoff) {
            let from = self.storage.offset_at_time(shard.partition, cutoff)?;
            entries = self.storage.read(shard.partition, from, limit, max_bytes)?;
        }
        Ok(entries)
    }

    /// How far behind the newest record a reader is once it has read up to `next_offset`.
    pub(crate) fn millis_behind(
        &self,
        shard: &ShardMeta,
        entries: &[Entry],
        next_offset: u64,
        now: u64,
    ) -> Result<i64> {
        let bounds = self.storage.bounds(shard.partition)?;
        Ok(match entries.last() {
            Some(last) if next_offset < bounds.end => now.saturating_sub(last.timestamp_ms) as i64,
            _ => 0,
        })
    }

    /// Where an iterator (or a subscription) of a given type starts, with AWS's checks.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn starting_offset(
        &self,
        n: &crate::resolve::StreamName,
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
    fn sequence_position(
        &self,
        n: &crate::resolve::StreamName,
        shard: &ShardMeta,
        seq: &str,
    ) -> Result<u64> {
        let invalid = |why: &str| {
            ApiError::invalid_argument(format!(
                "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {} under account {} is invalid{why}.",
                shard.id(),
                n.name,
                n.account
            ))
        };
        let parsed = SequenceNumber::parse(seq).ok_or_else(|| invalid(""))?;
        if parsed.shard_index != shard.index {
            return Err(ApiError::invalid_argument(format!(
                "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                shard_id(parsed.shard_index),
                shard.id()
            ))
            .into());
        }
        if parsed.shard_create_secs != shard.created_ms / 1000 {
            return Err(invalid(" because it did not come from this stream").into());
        }
        Ok(parsed.position)
    }

    /// The oldest offset still within retention.
    fn trim_horizon(&self, shard: &ShardMeta, retention_ms: u64, now: u64) -> Result<u64> {
        Ok(self
            .storage
            .offset_at_time(shard.partition, now.saturating_sub(retention_ms))?)
    }

    fn iterator(
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

    pub fn get_records(&self, caller: &Caller, input: GetRecordsInput) -> Result<GetRecordsOutput> {
        let started = Instant::now();
        let now = self.clock.now_ms();
        let token = input.shard_iterator.as_deref().unwrap_or_default();
        let it = ShardIterator::open(&self.sealer, token)
            .filter(|it| it.created_ms <= now + 1000)
            .ok_or_else(|| ApiError::invalid_argument("Invalid ShardIterator."))?;
        if it.account != caller.account_id {
            self.authorize_cross_account(caller, &it.account, &it.stream)?;
        }
        if now - it.created_ms.min(now) > self.config.iterator_ttl_ms {
            return Err(ApiError::new(
                ErrorCode::ExpiredIterator,
                format!(
                    "Iterator expired. The iterator was created at time {} while right now it is {} \
                     which is further in the future than the tolerated delay of {} milliseconds.",
                    java_date(it.created_ms),
                    java_date(now),
                    self.config.iterator_ttl_ms
                ),
            )
            .into());
        }
        let missing = || {
            ApiError::resource_not_found(format!(
                "Shard {} in stream {} under account {} does not exist",
                shard_id(it.shard_index),
                it.stream,
                it.account
            ))
        };
        let stream = self
            .catalog
            .get(&it.account, &it.stream)
            .ok_or_else(missing)?;
        let (shard, children, retention_ms, keys, enhanced) = {
            let s = stream.read();
            let shard = s
                .shard(it.shard_index)
                .filter(|sh| sh.partition == it.partition)
                .ok_or_else(missing)?
                .clone();
            let enhanced = observe::Enhanced::of(&s.meta.shard_level_metrics);
            if !s.limiter(it.shard_index as usize).admit_read() {
                observe::read_exceeded(observe::of(&it.account, &it.stream), &shard.id(), enhanced);
                return Err(ApiError::new(
                    ErrorCode::ProvisionedThroughputExceeded,
                    rate_exceeded(&shard, &it.stream, &it.account),
                )
                .into());
            }
            (
                shard.clone(),
                children_of(&s, &shard),
                s.meta.retention_ms(),
                s.meta.data_keys.clone(),
                enhanced,
            )
        };
        let limit = input.limit.map_or(GET_RECORDS_MAX_COUNT, |l| l as usize);
        let entries = self.read_shard(
            &shard,
            it.offset,
            limit,
            GET_RECORDS_MAX_BYTES,
            retention_ms,
            now,
        )?;
        let returned: usize = entries.iter().map(|e| e.payload.len()).sum();
        if let Some(s) = self.catalog.get(&it.account, &it.stream) {
            s.read()
                .limiter(it.shard_index as usize)
                .charge_read(returned as u64);
        }
        let next_offset = entries.last().map_or(it.offset, |e| e.offset + 1);
        let millis_behind_latest = self.millis_behind(&shard, &entries, next_offset, now)?;
        let records = self.to_records(&shard, &keys, &entries)?;
        let data_bytes: usize = records
            .iter()
            .map(|r| r.data.len() + r.partition_key.len())
            .sum();
        observe::get_records(
            observe::of(&it.account, &it.stream),
            &shard.id(),
            records.len() as u64,
            data_bytes as u64,
            millis_behind_latest,
            started.elapsed(),
            enhanced,
        );
        // At the end of a closed shard: no next iterator, and the children to go on with.
        let at_end = shard
            .closed
            .as_ref()
            .is_some_and(|c| next_offset >= c.end_offset);
        Ok(GetRecordsOutput {
            records,
            next_shard_iterator: (!at_end)
                .then(|| self.iterator(&it.account, &it.stream, &shard, next_offset, now)),
            millis_behind_latest,
            child_shards: at_end.then_some(children),
        })
    }
}

/// AWS's throttling message, for PutRecord(s) entries and read calls alike.
fn rate_exceeded(shard: &ShardMeta, stream: &str, account: &str) -> String {
    format!(
        "Rate exceeded for shard {} in stream {stream} under account {account}.",
        shard.id()
    )
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
        ApiError::invalid_argument(format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {ehk}"
        ))
        .into()
    })
}

impl Engine {
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
            None => records::encode_into(payloads, key, data),
            Some(enc) => {
                let data_key = s
                    .meta
                    .data_keys
                    .iter()
                    .find(|k| k.id == enc.data_key)
                    .ok_or_else(ApiError::internal)?;
                let sealed = self
                    .keyring
                    .encrypt(data_key, &records::encode(key, data))
                    .ok_or_else(ApiError::internal)?;
                records::encode_sealed_into(payloads, data_key.id, &sealed);
            }
        }
        Ok(Routed {
            shard_pos,
            payload: start..payloads.len(),
        })
    }

    /// Turns stored entries into Kinesis records, decrypting sealed ones.
    pub(crate) fn to_records(
        &self,
        shard: &ShardMeta,
        keys: &[DataKey],
        entries: &[Entry],
    ) -> Result<Vec<Record>> {
        let corrupt = |e: &Entry, detail: &str| LogError::Corrupt {
            what: format!("record {} of partition {}", e.offset, shard.partition),
            detail: detail.into(),
        };
        let mut numbers = seqnum::Formatter::default();
        entries
            .iter()
            .map(|e| {
                let (plain, encryption_type) = match records::classify(&e.payload) {
                    Some(records::Stored::Plain(p)) => (p.clone(), "NONE"),
                    Some(records::Stored::Sealed { key_id, sealed }) => {
                        let key = keys
                            .iter()
                            .find(|k| k.id == key_id)
                            .ok_or_else(|| corrupt(e, "unknown data key"))?;
                        let plain = self
                            .keyring
                            .decrypt(key, sealed)
                            .ok_or_else(|| corrupt(e, "record does not decrypt"))?;
                        (Bytes::from(plain), "KMS")
                    }
                    None => return Err(corrupt(e, "unreadable record payload").into()),
                };
                let (partition_key, data) = records::decode(&plain)
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

pub(crate) fn children_of(s: &Stream, shard: &ShardMeta) -> Vec<ChildShard> {
    s.meta
        .shards
        .iter()
        .filter(|c| c.parent == Some(shard.index) || c.adjacent_parent == Some(shard.index))
        .map(|c| ChildShard {
            shard_id: c.id(),
            parent_shards: c
                .parent
                .into_iter()
                .chain(c.adjacent_parent)
                .map(shard_id)
                .collect(),
            hash_key_range: HashKeyRange {
                starting_hash_key: c.start_hash.clone(),
                ending_hash_key: c.end_hash.clone(),
            },
        })
        .collect()
}
