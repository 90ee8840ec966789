//! CreateQueue, DescribeQueue, ListQueues, UpdateQueue, DeleteQueue.
//!
//! AWS's documented rules: queues only on on-demand streams; exactly one stream per queue; a
//! queue counts against the stream's registered-consumer limit (20) together with enhanced
//! fan-out consumers; at most 5 queues of an account CREATING or DELETING at once; defaults of
//! 30 s visibility and dead-lettering after 6 receives; UpdateQueue changes only what it names
//! (a new visibility timeout applies to records received afterwards). Where AWS does not say
//! which error it answers, shardline's choices are: ValidationException for a provisioned
//! stream, InvalidArgumentException for more than one stream, ResourceInUseException for a
//! name already used in the account.

use rand::Rng;
use serde::{Deserialize, Serialize};
use shardline_wire::shapes::*;
use shardline_wire::{ApiError, ErrorCode, Timestamp};

use super::queue_not_found;
use crate::by_stream::page;
use crate::error::Result;
use crate::model::{QueueMeta, QueueStart, StreamMeta, StreamMode};
use crate::next_token;
use crate::resolve::{not_readable, parse_stream_arn};
use crate::{Caller, Engine};

/// Registered consumers (enhanced fan-out consumers and queues together) per stream.
pub(crate) const MAX_REGISTERED: usize = 20;
/// Queues of an account CREATING or DELETING at once (AWS quota).
const MAX_CHANGING: usize = 5;
const DEFAULT_VISIBILITY_SECS: u32 = 30;
const DEFAULT_MAX_RECEIVE: u32 = 6;
const LIST_DEFAULT: usize = 100;
const TOKEN_TTL_MS: u64 = 300_000;

#[derive(Serialize, Deserialize)]
struct ListQueuesToken {
    created_ms: u64,
    account: String,
    /// (stream, queue name) of the last queue returned.
    after: (String, String),
    max_results: usize,
}

fn validation(message: String) -> ApiError {
    ApiError::new(ErrorCode::Validation, message)
}

/// A queue ARN's resource id: 24 lowercase letters and digits (DNS-label safe, as AWS's
/// endpoint rules need).
fn new_queue_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..24)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

impl Engine {
    pub fn create_queue(
        &self,
        caller: &Caller,
        input: CreateQueueInput,
    ) -> Result<CreateQueueOutput> {
        let name = input.queue_name.unwrap_or_default();
        let account = caller.account_id.clone();
        let configs = input.stream_configuration_list.unwrap_or_default();
        if configs.len() != 1 {
            return Err(ApiError::invalid_argument(format!(
                "A queue delivers records from exactly one stream; StreamConfigurationList has {} entries.",
                configs.len()
            ))
            .into());
        }
        let config = &configs[0];
        let stream_arn = config.stream_arn.clone().unwrap_or_default();
        let start = match &config.starting_position {
            None => QueueStart::Latest,
            Some(p) => match (p.position_type.as_deref(), p.timestamp) {
                (Some("AT_TIMESTAMP"), Some(t)) => QueueStart::AtTimestamp(t.millis.max(0) as u64),
                (Some("AT_TIMESTAMP"), None) => {
                    return Err(validation(
                        "StartingPosition.Timestamp is required when its Type is AT_TIMESTAMP.".into(),
                    )
                    .into())
                }
                (Some(kind), Some(_)) => {
                    return Err(validation(format!(
                        "StartingPosition.Timestamp may only be given when its Type is AT_TIMESTAMP, not {kind}."
                    ))
                    .into())
                }
                (Some("TRIM_HORIZON"), None) => QueueStart::TrimHorizon,
                _ => QueueStart::Latest,
            },
        };
        let attributes = input.queue_attributes.unwrap_or_default();
        let max_receive_count = dead_lettering(
            attributes.dead_letter_configuration.as_ref(),
            Some(DEFAULT_MAX_RECEIVE),
        )?;
        let mut tags = std::collections::BTreeMap::new();
        crate::tags::merge_tags(
            &mut tags,
            input.tags.unwrap_or_default(),
            &format!("queue {name}"),
        )?;

        let (stream_account, stream_name) = parse_stream_arn(&stream_arn).ok_or_else(|| {
            ApiError::invalid_argument(format!("Invalid StreamARN: {stream_arn}"))
        })?;
        if stream_account != account {
            return Err(crate::resolve::not_found(stream_account, stream_name).into());
        }
        let stream = self
            .catalog
            .get(&account, stream_name)
            .ok_or_else(|| crate::resolve::not_found(&account, stream_name))?;
        let now = self.clock.now_ms();
        let all_queues: Vec<QueueMeta> = self
            .catalog
            .list(&account, None)
            .iter()
            .flat_map(|s| s.read().meta.queues.clone())
            .collect();
        if all_queues.iter().any(|q| q.name == name) {
            return Err(ApiError::resource_in_use(format!(
                "Queue {name} under account {account} already exists."
            ))
            .into());
        }
        let changing = all_queues
            .iter()
            .filter(|q| matches!(q.status(now), "CREATING" | "DELETING"))
            .count();
        if self.config.limits.control_plane && changing >= MAX_CHANGING {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "The account {account} has {changing} queues in CREATING or DELETING state; at most {MAX_CHANGING} at once."
                ),
            )
            .into());
        }
        let journal = self.catalog.allocate_partition();
        let queue = {
            let s = stream.read();
            check_stream_takes_queue(&s.meta, now)?;
            QueueMeta {
                name,
                id: new_queue_id(),
                created_ms: now,
                active_at_ms: now + self.config.create_delay_ms,
                deleted_at_ms: None,
                updating_until_ms: None,
                visibility_timeout_secs: attributes
                    .visibility_timeout_seconds
                    .map_or(DEFAULT_VISIBILITY_SECS, |v| v as u32),
                max_receive_count,
                start,
                journal,
                tags,
            }
        };
        // The journal partition first: a crash before the manifest holds the queue leaves an
        // orphan the next start removes.
        self.storage.create_partition(journal)?;
        let added = {
            let mut s = stream.write();
            match check_stream_takes_queue(&s.meta, now) {
                Ok(()) => {
                    s.meta.queues.push(queue.clone());
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        if let Err(e) = added.and_then(|()| self.persist()) {
            stream.write().meta.queues.retain(|q| q.id != queue.id);
            let _ = self.storage.remove_partition(journal);
            return Err(e);
        }
        let s = stream.read();
        Ok(QueueDescriptionOutput {
            queue_description: self.queue_description(&s.meta, &queue, now),
        })
    }

    pub fn describe_queue(
        &self,
        caller: &Caller,
        input: DescribeQueueInput,
    ) -> Result<DescribeQueueOutput> {
        let (stream, q) =
            self.find_queue(caller, input.queue_arn.as_deref().unwrap_or_default())?;
        let s = stream.read();
        Ok(QueueDescriptionOutput {
            queue_description: self.queue_description(&s.meta, &q, self.clock.now_ms()),
        })
    }

    pub fn update_queue(
        &self,
        caller: &Caller,
        input: UpdateQueueInput,
    ) -> Result<UpdateQueueOutput> {
        let arn = input.queue_arn.unwrap_or_default();
        let (stream, q) = self.find_queue(caller, &arn)?;
        let now = self.clock.now_ms();
        let status = q.status(now);
        if status != "ACTIVE" {
            return Err(ApiError::resource_in_use(format!(
                "Queue {arn} is {status}; it can be updated only while ACTIVE."
            ))
            .into());
        }
        let attributes = input.queue_attributes.unwrap_or_default();
        let dead_letter = attributes
            .dead_letter_configuration
            .as_ref()
            .map(|d| dead_lettering(Some(d), None))
            .transpose()?;
        let updated = {
            let mut s = stream.write();
            let q = s
                .meta
                .queues
                .iter_mut()
                .find(|x| x.id == q.id)
                .ok_or_else(|| queue_not_found(&arn))?;
            if let Some(v) = attributes.visibility_timeout_seconds {
                q.visibility_timeout_secs = v as u32;
            }
            if let Some(max) = dead_letter {
                q.max_receive_count = max;
            }
            q.updating_until_ms = Some(now + self.config.create_delay_ms);
            q.clone()
        };
        self.persist()?;
        let s = stream.read();
        Ok(QueueDescriptionOutput {
            queue_description: self.queue_description(&s.meta, &updated, now),
        })
    }

    pub fn delete_queue(&self, caller: &Caller, input: DeleteQueueInput) -> Result<Empty> {
        let arn = input.queue_arn.unwrap_or_default();
        let (stream, q) = self.find_queue(caller, &arn)?;
        if q.deleted_at_ms.is_some() {
            return Err(queue_not_found(&arn).into());
        }
        let now = self.clock.now_ms();
        {
            let mut s = stream.write();
            if let Some(q) = s.meta.queues.iter_mut().find(|x| x.id == q.id) {
                q.deleted_at_ms = Some(now + self.config.delete_delay_ms);
            }
        }
        self.persist()?;
        // Long polls see DELETING at their next look.
        if let Ok(rt) = self.queue_runtime(&q) {
            rt.wake.notify_waiters();
        }
        Ok(Empty {})
    }

    pub fn list_queues(&self, caller: &Caller, input: ListQueuesInput) -> Result<ListQueuesOutput> {
        let now = self.clock.now_ms();
        let account = caller.account_id.clone();
        let (after, max) = match &input.next_token {
            Some(text) => {
                let t: ListQueuesToken = next_token::open(
                    &self.sealer,
                    text,
                    now,
                    TOKEN_TTL_MS,
                    |t: &ListQueuesToken| t.created_ms,
                )?;
                if t.account != account {
                    return Err(ApiError::invalid_argument("Invalid NextToken.").into());
                }
                (Some(t.after), t.max_results)
            }
            None => (None, input.max_results.map_or(LIST_DEFAULT, |m| m as usize)),
        };
        let mut all = Vec::new();
        for stream in self.filtered_streams(&account, input.stream_filter) {
            let s = stream.read();
            for q in &s.meta.queues {
                all.push((
                    (s.meta.name.clone(), q.name.clone()),
                    QueueSummary {
                        queue_name: q.name.clone(),
                        queue_arn: q.arn(&self.config.region, &account),
                        queue_status: q.status(now),
                        queue_creation_timestamp: Timestamp::from_millis(q.created_ms as i64),
                        streams: vec![self.stream_identifier(&s.meta)],
                    },
                ));
            }
        }
        let (page, more) = page(all, after.as_ref(), max);
        let next_token = match (more, page.last()) {
            (true, Some((k, _))) => Some(next_token::seal(
                &self.sealer,
                &ListQueuesToken {
                    created_ms: now,
                    account,
                    after: k.clone(),
                    max_results: max,
                },
            )),
            _ => None,
        };
        Ok(ListQueuesOutput {
            queue_summaries: page.into_iter().map(|(_, q)| q).collect(),
            next_token,
        })
    }

    fn queue_description(&self, stream: &StreamMeta, q: &QueueMeta, now: u64) -> QueueDescription {
        let status = q.status(now);
        // While CREATING, AWS echoes only an AT_TIMESTAMP's time; afterwards the effective
        // start, never before the oldest time the stream still holds.
        let earliest = now
            .saturating_sub(stream.retention_ms())
            .max(stream.created_ms);
        let (kind, timestamp) = match q.start {
            QueueStart::TrimHorizon => ("TRIM_HORIZON", (status != "CREATING").then_some(earliest)),
            QueueStart::Latest => ("LATEST", (status != "CREATING").then_some(q.created_ms)),
            QueueStart::AtTimestamp(t) => (
                "AT_TIMESTAMP",
                Some(if status == "CREATING" {
                    t
                } else {
                    t.max(earliest)
                }),
            ),
        };
        QueueDescription {
            queue_name: q.name.clone(),
            queue_arn: q.arn(&self.config.region, &stream.account),
            queue_status: status,
            queue_creation_timestamp: Timestamp::from_millis(q.created_ms as i64),
            stream_configuration_list: vec![QueueStreamConfiguration {
                stream_arn: Some(stream.arn(&self.config.region)),
                starting_position: Some(QueueStartingPosition {
                    position_type: Some(kind.into()),
                    timestamp: timestamp.map(|t| Timestamp::from_millis(t as i64)),
                }),
            }],
            queue_attributes: QueueAttributes {
                visibility_timeout_seconds: Some(i64::from(q.visibility_timeout_secs)),
                dead_letter_configuration: Some(match q.max_receive_count {
                    Some(m) => DeadLetterConfiguration {
                        target_type: Some("BUILT_IN".into()),
                        max_receive_count: Some(i64::from(m)),
                    },
                    None => DeadLetterConfiguration {
                        target_type: Some("NONE".into()),
                        max_receive_count: None,
                    },
                }),
            },
        }
    }
}

/// The queue's MaxReceiveCount from a DeadLetterConfiguration (`None` inside: no
/// dead-lettering); `default` when none was given.
fn dead_lettering(
    config: Option<&DeadLetterConfiguration>,
    default: Option<u32>,
) -> Result<Option<u32>> {
    match config {
        None => Ok(default),
        Some(d) => match (d.target_type.as_deref(), d.max_receive_count) {
            (Some("BUILT_IN"), Some(m)) => Ok(Some(m as u32)),
            (Some("BUILT_IN"), None) => Err(validation(
                "DeadLetterConfiguration.MaxReceiveCount is required when TargetType is BUILT_IN."
                    .into(),
            )
            .into()),
            _ => Ok(None),
        },
    }
}

/// A stream can take another queue: ACTIVE or UPDATING, on-demand, under the shared limit of
/// registered consumers.
fn check_stream_takes_queue(m: &StreamMeta, now: u64) -> Result<()> {
    let status = m.status(now);
    if !status.is_readable() {
        return Err(not_readable(&m.account, &m.name, status).into());
    }
    if m.mode != StreamMode::OnDemand {
        return Err(validation(format!(
            "Queues are supported only on ON_DEMAND streams; stream {} under account {} is PROVISIONED.",
            m.name, m.account
        ))
        .into());
    }
    if registered(m) >= MAX_REGISTERED {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            format!(
                "Stream {} under account {} has reached the limit of {MAX_REGISTERED} registered consumers (enhanced fan-out consumers and queues together).",
                m.name, m.account
            ),
        )
        .into());
    }
    Ok(())
}

/// Registered consumers of a stream: live enhanced fan-out consumers and queues.
pub(crate) fn registered(m: &StreamMeta) -> usize {
    m.consumers
        .iter()
        .filter(|c| c.deleted_at_ms.is_none())
        .count()
        + m.queues
            .iter()
            .filter(|q| q.deleted_at_ms.is_none())
            .count()
}
