//! A lease as the KCL keeps it: one item per shard in the lease table, named by the shard id,
//! owned by at most one worker, its `leaseCounter` bumped by every change (which is how other
//! workers see that its owner is alive), and its checkpoint: the last record processed
//! (inclusive), or a sentinel.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a shard's processing stands: a sequence number and sub-sequence number (the last user
/// record processed, inclusive), or one of the KCL's sentinels.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Checkpoint {
    /// Start at the oldest record (a new lease).
    TrimHorizon,
    /// Start after the newest record (a new lease).
    Latest,
    /// Start at the configured timestamp (a new lease; the timestamp itself is not stored).
    AtTimestamp,
    /// Processed through this record.
    At { sequence: String, sub: u64 },
    /// The shard was read to its end and the processor said so.
    ShardEnd,
}

impl Checkpoint {
    /// The text the KCL stores in `checkpoint`.
    pub fn as_stored(&self) -> &str {
        match self {
            Checkpoint::TrimHorizon => "TRIM_HORIZON",
            Checkpoint::Latest => "LATEST",
            Checkpoint::AtTimestamp => "AT_TIMESTAMP",
            Checkpoint::At { sequence, .. } => sequence,
            Checkpoint::ShardEnd => "SHARD_END",
        }
    }

    /// `checkpointSubSequenceNumber`: 0 for a sentinel.
    pub fn sub(&self) -> u64 {
        match self {
            Checkpoint::At { sub, .. } => *sub,
            _ => 0,
        }
    }

    /// Reads `checkpoint` and `checkpointSubSequenceNumber` as stored; `None` for text that is
    /// neither a sentinel nor a sequence number.
    pub fn from_stored(text: &str, sub: u64) -> Option<Checkpoint> {
        Some(match text {
            "TRIM_HORIZON" => Checkpoint::TrimHorizon,
            "LATEST" => Checkpoint::Latest,
            "AT_TIMESTAMP" => Checkpoint::AtTimestamp,
            "SHARD_END" => Checkpoint::ShardEnd,
            seq if !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()) => Checkpoint::At {
                sequence: seq.to_string(),
                sub,
            },
            _ => return None,
        })
    }

    /// Whether processing has begun past the lease's starting position.
    pub fn started(&self) -> bool {
        matches!(self, Checkpoint::At { .. } | Checkpoint::ShardEnd)
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Checkpoint::At { sequence, sub } => write!(f, "{sequence}/{sub}"),
            other => f.write_str(other.as_stored()),
        }
    }
}

/// Compares two sequence numbers (decimal strings without leading zeros) as numbers.
pub fn compare_sequence(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Whether the user record `(sequence, sub)` was processed by `checkpoint` (at or before it).
pub fn covered(checkpoint: &Checkpoint, sequence: &str, sub: u64) -> bool {
    match checkpoint {
        Checkpoint::At {
            sequence: at,
            sub: at_sub,
        } => match compare_sequence(sequence, at) {
            Ordering::Less => true,
            Ordering::Equal => sub <= *at_sub,
            Ordering::Greater => false,
        },
        Checkpoint::ShardEnd => true,
        _ => false,
    }
}

/// One lease: a shard, its owner and its checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The shard id (the table's hash key).
    pub key: String,
    pub owner: Option<String>,
    pub counter: u64,
    pub checkpoint: Checkpoint,
    pub owner_switches_since_checkpoint: u64,
    /// The shard's parents (`parentShardId`, a string set).
    pub parents: Vec<String>,
    /// Its children, once it was read to its end (`childShardIds`).
    pub children: Vec<String>,
    /// Its hash-key range (`startingHashKey`, `endingHashKey`).
    pub hash_range: Option<(u128, u128)>,
    /// A pending checkpoint written by the KCL's two-phase checkpointing (kept, never acted on).
    pub pending_checkpoint: Option<Checkpoint>,
    /// The KCL 3 graceful hand-off marker: the previous owner, still allowed to checkpoint.
    pub checkpoint_owner: Option<String>,
}

impl Lease {
    /// A new, unowned lease starting at `checkpoint`.
    pub fn new(key: impl Into<String>, checkpoint: Checkpoint) -> Lease {
        Lease {
            key: key.into(),
            owner: None,
            counter: 0,
            checkpoint,
            owner_switches_since_checkpoint: 0,
            parents: Vec::new(),
            children: Vec::new(),
            hash_range: None,
            pending_checkpoint: None,
            checkpoint_owner: None,
        }
    }

    /// Whether its shard is done (read to its end, and the processor checkpointed that).
    pub fn is_finished(&self) -> bool {
        self.checkpoint == Checkpoint::ShardEnd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_read_back_as_stored() {
        for c in [
            Checkpoint::TrimHorizon,
            Checkpoint::Latest,
            Checkpoint::AtTimestamp,
            Checkpoint::ShardEnd,
            Checkpoint::At {
                sequence: "49590338271490256608559692538361571095921575989136588898".into(),
                sub: 7,
            },
        ] {
            assert_eq!(Checkpoint::from_stored(c.as_stored(), c.sub()), Some(c));
        }
        assert_eq!(Checkpoint::from_stored("", 0), None);
        assert_eq!(Checkpoint::from_stored("12a", 0), None);
    }

    #[test]
    fn coverage_is_numeric_and_counts_sub_sequence_numbers() {
        let at = Checkpoint::At {
            sequence: "100".into(),
            sub: 2,
        };
        assert!(covered(&at, "99", 9));
        assert!(covered(&at, "100", 2));
        assert!(!covered(&at, "100", 3));
        assert!(!covered(&at, "1000", 0));
        assert!(!covered(&Checkpoint::TrimHorizon, "1", 0));
        assert!(covered(&Checkpoint::ShardEnd, "1", 0));
    }
}
