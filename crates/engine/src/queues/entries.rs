//! The batch operations on receipt handles: AcknowledgeQueueRecords,
//! UpdateQueueRecordsVisibility, AcknowledgeDeadLetterQueueRecords,
//! UpdateDeadLetterQueueRecordsVisibility, RestoreDeadLetterQueueRecords. Each entry succeeds or
//! fails on its own (HTTP 200 either way); the reply waits until the changes are durable.
//!
//! A receipt handle is valid while it is the record's latest: once the record is received
//! again, older handles are refused (so one delivery is acknowledged once). shardline's
//! per-entry codes: an unreadable handle, one of another queue, a stale one, or one of the
//! other kind (normal/dead-letter) → InvalidArgumentException; a record no longer in the queue
//! (acknowledged, or past retention) → ResourceNotFoundException.

use shardline_wire::shapes::*;
use shardline_wire::ApiError;

use super::state::Refusal;
use super::Handle;
use crate::error::Result;
use crate::{Caller, Engine};

/// Which batch operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryOp {
    Acknowledge { dead: bool },
    Visibility { dead: bool },
    Restore,
}

impl EntryOp {
    fn dead(self) -> bool {
        match self {
            EntryOp::Acknowledge { dead } | EntryOp::Visibility { dead } => dead,
            EntryOp::Restore => true,
        }
    }
}

const INVALID: &str = "InvalidArgumentException";
const NOT_FOUND: &str = "ResourceNotFoundException";

impl Engine {
    pub async fn queue_entries(
        &self,
        caller: &Caller,
        input: ReceiptEntriesInput,
        op: EntryOp,
    ) -> Result<ReceiptEntriesOutput> {
        let arn = input.queue_arn.unwrap_or_default();
        let (_, q) = self.find_queue(caller, &arn)?;
        if q.deleted_at_ms.is_some() {
            return Err(ApiError::resource_not_found(format!(
                "Queue {arn} is DELETING; its receipt handles are no longer valid."
            ))
            .into());
        }
        let rt = self.queue_runtime(&q)?;
        let now = self.clock.now_ms();
        let mut out = ReceiptEntriesOutput::default();
        let mut woke = false;
        let durable = {
            let mut inner = rt.inner.lock();
            let mut changes = Vec::new();
            for entry in input.entries.unwrap_or_default() {
                let text = entry.receipt_handle.unwrap_or_default();
                let fail = |code, message: String| ReceiptErrorEntry {
                    receipt_handle: text.clone(),
                    error_code: code,
                    error_message: Some(message),
                };
                let Some(h) = Handle::open(&self.sealer, &text).filter(|h| h.q == q.id) else {
                    out.failed.push(fail(
                        INVALID,
                        format!("The receipt handle is not one issued by queue {arn}."),
                    ));
                    continue;
                };
                let pos = (h.s, h.o);
                // Handles from dead-letter receives go to the dead-letter operations only, and
                // the reverse.
                let done = if h.d != op.dead() {
                    Err(Refusal::WrongKind)
                } else {
                    match op {
                        EntryOp::Acknowledge { dead } => {
                            inner.state.acknowledge(&mut changes, pos, h.g, dead)
                        }
                        EntryOp::Visibility { dead } => {
                            let secs = entry.visibility_timeout_seconds.unwrap_or(0).max(0) as u64;
                            woke |= secs == 0;
                            inner.state.set_visibility(
                                &mut changes,
                                pos,
                                h.g,
                                dead,
                                now,
                                secs * 1000,
                            )
                        }
                        EntryOp::Restore => {
                            woke = true;
                            inner.state.restore(&mut changes, pos, h.g, now)
                        }
                    }
                };
                match done {
                    Ok(()) => out.successful.push(ReceiptResultEntry {
                        receipt_handle: text,
                    }),
                    Err(Refusal::NotFound) => out.failed.push(fail(
                        NOT_FOUND,
                        "The record is no longer in the queue: it was acknowledged, or it is \
                         past the stream's retention period."
                            .into(),
                    )),
                    Err(Refusal::Stale) => out.failed.push(fail(
                        INVALID,
                        "The receipt handle has expired: the record was received again since \
                         it was issued."
                            .into(),
                    )),
                    Err(Refusal::WrongKind) => out.failed.push(fail(
                        INVALID,
                        if op.dead() {
                            "The record is not a dead-letter record.".into()
                        } else {
                            "The record is a dead-letter record; use the dead-letter operations."
                                .into()
                        },
                    )),
                }
            }
            self.journal(&rt, &mut inner, changes)?
        };
        if let Some(d) = durable {
            d.await?;
        }
        if woke {
            rt.wake.notify_waiters();
        }
        Ok(out)
    }
}
