//! A queue's delivery state, without I/O: where delivery stands on each shard, and every record
//! delivered and not yet acknowledged (in flight, visible again, or dead-lettered). Every change
//! is also returned as journal [`Change`]s, which [`DeliveryState::apply`] replays.
//!
//! Memory stays bounded: records below a shard's cursor that are not held here are settled
//! (acknowledged, or past retention), so the state holds only unsettled records, at most
//! [`MAX_IN_FLIGHT`] in flight plus [`MAX_DEAD`] dead letters (about 120 bytes each with the
//! indexes: under 30 MiB for a full queue). A queue at either cap takes no new records from
//! the stream until some are settled.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// AWS's quota of records in flight per queue.
pub const MAX_IN_FLIGHT: usize = 120_000;
/// Dead letters a queue holds before it stops taking new records (shardline's bound).
pub const MAX_DEAD: usize = 120_000;

/// A record of the stream: shard index and offset in the shard's partition.
pub type Pos = (u32, u64);

/// One delivered, unsettled record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsettled {
    /// When the record arrived in the stream (for retention and the reply).
    #[serde(rename = "a")]
    pub arrival_ms: u64,
    /// Receives without an acknowledgement (reset by a restore).
    #[serde(rename = "c")]
    pub receive_count: u32,
    #[serde(rename = "f")]
    pub first_receive_ms: u64,
    /// Invisible until then.
    #[serde(rename = "v")]
    pub visible_at_ms: u64,
    /// The delivery its current receipt handle belongs to.
    #[serde(rename = "g")]
    pub generation: u64,
    /// A dead-letter record.
    #[serde(rename = "d")]
    pub dead: bool,
}

/// One change to the state, as journaled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// Delivery on a shard continues at this offset.
    #[serde(rename = "c")]
    Cursor(u32, u64),
    /// A record's state (added or changed).
    #[serde(rename = "u")]
    Upsert(u32, u64, Unsettled),
    /// A record settled: acknowledged, or past retention.
    #[serde(rename = "r")]
    Remove(u32, u64),
}

/// Why an operation on a receipt handle failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Acknowledged already, past retention, or never delivered.
    NotFound,
    /// Received again since this handle was issued.
    Stale,
    /// A normal record given to a dead-letter operation or the reverse.
    WrongKind,
}

#[derive(Clone, Debug, Default)]
pub struct DeliveryState {
    cursors: BTreeMap<u32, u64>,
    records: HashMap<Pos, Unsettled>,
    /// Normal records by the time they become visible (again).
    normal: BTreeSet<(u64, Pos)>,
    /// Dead letters by the time they become visible.
    dead: BTreeSet<(u64, Pos)>,
    /// The last receipt-handle generation issued.
    generation: u64,
}

impl DeliveryState {
    pub fn cursor(&self, shard: u32) -> Option<u64> {
        self.cursors.get(&shard).copied()
    }

    pub fn get(&self, pos: Pos) -> Option<Unsettled> {
        self.records.get(&pos).copied()
    }

    #[cfg(test)]
    pub fn dead_count(&self) -> usize {
        self.dead.len()
    }

    /// Normal records in flight at `now`.
    pub fn in_flight(&self, now_ms: u64) -> usize {
        self.normal.len() - self.normal.range(..(now_ms + 1, (0, 0))).count()
    }

    /// Whether new records may be taken from the stream.
    pub fn has_room(&self, now_ms: u64) -> bool {
        self.in_flight(now_ms) < MAX_IN_FLIGHT && self.dead.len() < MAX_DEAD
    }

    /// The next time a normal (or dead-letter) record becomes visible, if any is invisible.
    pub fn next_visible(&self, dead: bool, now_ms: u64) -> Option<u64> {
        let set = if dead { &self.dead } else { &self.normal };
        set.range((now_ms + 1, (0, 0))..).next().map(|(t, _)| *t)
    }

    /// Applies a change (also when replaying the journal).
    pub fn apply(&mut self, change: &Change) {
        match *change {
            Change::Cursor(shard, offset) => {
                let c = self.cursors.entry(shard).or_insert(offset);
                *c = (*c).max(offset);
            }
            Change::Upsert(shard, offset, u) => {
                self.unindex((shard, offset));
                self.generation = self.generation.max(u.generation);
                let set = if u.dead {
                    &mut self.dead
                } else {
                    &mut self.normal
                };
                set.insert((u.visible_at_ms, (shard, offset)));
                self.records.insert((shard, offset), u);
            }
            Change::Remove(shard, offset) => {
                self.unindex((shard, offset));
                self.records.remove(&(shard, offset));
            }
        }
    }

    fn unindex(&mut self, pos: Pos) {
        if let Some(old) = self.records.get(&pos) {
            let set = if old.dead {
                &mut self.dead
            } else {
                &mut self.normal
            };
            set.remove(&(old.visible_at_ms, pos));
        }
    }

    fn record(&mut self, out: &mut Vec<Change>, change: Change) {
        self.apply(&change);
        out.push(change);
    }

    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Moves delivery on a shard forward.
    pub fn advance(&mut self, out: &mut Vec<Change>, shard: u32, next: u64) {
        if self.cursor(shard) != Some(next) {
            self.record(out, Change::Cursor(shard, next));
        }
    }

    /// Drops records that arrived before `horizon_ms` (past the stream's retention).
    pub fn expire(&mut self, out: &mut Vec<Change>, horizon_ms: u64) {
        let old: Vec<Pos> = self
            .records
            .iter()
            .filter(|(_, u)| u.arrival_ms < horizon_ms)
            .map(|(p, _)| *p)
            .collect();
        for (shard, offset) in old {
            self.record(out, Change::Remove(shard, offset));
        }
    }

    /// Drops one record that can no longer be read (its shard's data is gone).
    pub fn expire_one(&mut self, out: &mut Vec<Change>, pos: Pos) {
        if self.records.contains_key(&pos) {
            self.record(out, Change::Remove(pos.0, pos.1));
        }
    }

    /// Normal records visible at `now`, at most `limit`, oldest visibility first. With
    /// dead-lettering on, those received `max_receive` times become dead letters instead (and
    /// are not returned).
    pub fn visible_normal(
        &mut self,
        out: &mut Vec<Change>,
        now_ms: u64,
        limit: usize,
        max_receive: Option<u32>,
    ) -> Vec<Pos> {
        let mut found = Vec::new();
        let mut to_dead = Vec::new();
        for &(_, pos) in self.normal.range(..(now_ms + 1, (0, 0))) {
            // With `limit` 0 this only turns due records into dead letters.
            if limit > 0 && found.len() >= limit {
                break;
            }
            let Some(u) = self.records.get(&pos) else {
                continue;
            };
            if max_receive.is_some_and(|m| u.receive_count >= m) {
                to_dead.push(pos);
            } else if limit > 0 {
                found.push(pos);
            }
        }
        for pos in to_dead {
            if let Some(mut u) = self.get(pos) {
                u.dead = true;
                u.visible_at_ms = now_ms;
                self.record(out, Change::Upsert(pos.0, pos.1, u));
            }
        }
        found
    }

    /// Dead letters visible at `now`, at most `limit`.
    pub fn visible_dead(&self, now_ms: u64, limit: usize) -> Vec<Pos> {
        self.dead
            .range(..(now_ms + 1, (0, 0)))
            .take(limit)
            .map(|(_, p)| *p)
            .collect()
    }

    /// Delivers a record (new, visible again, or a dead letter): a new receipt-handle
    /// generation, invisible for `visibility_ms`. Normal receives count.
    pub fn deliver(
        &mut self,
        out: &mut Vec<Change>,
        pos: Pos,
        arrival_ms: u64,
        now_ms: u64,
        visibility_ms: u64,
    ) -> Unsettled {
        let generation = self.next_generation();
        let u = match self.get(pos) {
            Some(mut u) => {
                if !u.dead {
                    u.receive_count += 1;
                }
                u.visible_at_ms = now_ms + visibility_ms;
                u.generation = generation;
                u
            }
            None => Unsettled {
                arrival_ms,
                receive_count: 1,
                first_receive_ms: now_ms,
                visible_at_ms: now_ms + visibility_ms,
                generation,
                dead: false,
            },
        };
        self.record(out, Change::Upsert(pos.0, pos.1, u));
        u
    }

    /// The record a receipt handle names, if the handle is its current one and of the kind.
    fn current(&self, pos: Pos, generation: u64, dead: bool) -> Result<Unsettled, Refusal> {
        let u = self.get(pos).ok_or(Refusal::NotFound)?;
        if u.generation != generation {
            return Err(Refusal::Stale);
        }
        if u.dead != dead {
            return Err(Refusal::WrongKind);
        }
        Ok(u)
    }

    /// Acknowledges a record. A normal receipt handle also settles a record that has become a
    /// dead letter since (the consumer did process it).
    pub fn acknowledge(
        &mut self,
        out: &mut Vec<Change>,
        pos: Pos,
        generation: u64,
        dead: bool,
    ) -> Result<(), Refusal> {
        let u = self.get(pos).ok_or(Refusal::NotFound)?;
        if u.generation != generation {
            return Err(Refusal::Stale);
        }
        if dead && !u.dead {
            return Err(Refusal::WrongKind);
        }
        self.record(out, Change::Remove(pos.0, pos.1));
        Ok(())
    }

    /// Changes when a delivered record becomes visible again: `visibility_ms` from now.
    pub fn set_visibility(
        &mut self,
        out: &mut Vec<Change>,
        pos: Pos,
        generation: u64,
        dead: bool,
        now_ms: u64,
        visibility_ms: u64,
    ) -> Result<(), Refusal> {
        let mut u = self.current(pos, generation, dead)?;
        u.visible_at_ms = now_ms + visibility_ms;
        self.record(out, Change::Upsert(pos.0, pos.1, u));
        Ok(())
    }

    /// Restores a dead letter: a normal record again, visible now, its receive count reset.
    pub fn restore(
        &mut self,
        out: &mut Vec<Change>,
        pos: Pos,
        generation: u64,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        let mut u = self.current(pos, generation, true)?;
        u.dead = false;
        u.receive_count = 0;
        u.visible_at_ms = now_ms;
        self.record(out, Change::Upsert(pos.0, pos.1, u));
        Ok(())
    }

    /// Changes that rebuild this state from nothing (a snapshot), in chunks of `chunk`.
    pub fn snapshot(&self, chunk: usize) -> Vec<Vec<Change>> {
        let mut all: Vec<Change> = self
            .cursors
            .iter()
            .map(|(s, o)| Change::Cursor(*s, *o))
            .collect();
        all.extend(
            self.records
                .iter()
                .map(|((s, o), u)| Change::Upsert(*s, *o, *u)),
        );
        if all.is_empty() {
            return vec![Vec::new()];
        }
        all.chunks(chunk.max(1)).map(<[Change]>::to_vec).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replayed(changes: &[Change]) -> DeliveryState {
        let mut s = DeliveryState::default();
        for c in changes {
            s.apply(c);
        }
        s
    }

    fn same(a: &DeliveryState, b: &DeliveryState) {
        assert_eq!(a.cursors, b.cursors);
        assert_eq!(a.records, b.records);
        assert_eq!(a.normal, b.normal);
        assert_eq!(a.dead, b.dead);
    }

    #[test]
    fn redelivery_after_visibility_then_dead_letter_then_restore() {
        let mut s = DeliveryState::default();
        let mut log = Vec::new();
        let first = s.deliver(&mut log, (0, 7), 100, 1_000, 30_000);
        assert_eq!((first.receive_count, first.generation), (1, 1));
        // Invisible until its timeout passes.
        assert!(s.visible_normal(&mut log, 30_999, 10, Some(2)).is_empty());
        assert_eq!(s.in_flight(30_999), 1);
        assert_eq!(s.visible_normal(&mut log, 31_000, 10, Some(2)), [(0, 7)]);
        let second = s.deliver(&mut log, (0, 7), 100, 31_000, 30_000);
        assert_eq!(second.receive_count, 2);
        // The first handle is stale now.
        assert_eq!(
            s.acknowledge(&mut log, (0, 7), 1, false),
            Err(Refusal::Stale)
        );
        // Received twice (MaxReceiveCount 2): at expiry it is a dead letter, not redelivered.
        assert!(s.visible_normal(&mut log, 61_000, 10, Some(2)).is_empty());
        assert_eq!(s.dead_count(), 1);
        assert_eq!(s.visible_dead(61_000, 10), [(0, 7)]);
        let dl = s.deliver(&mut log, (0, 7), 100, 61_000, 5_000);
        assert_eq!(dl.receive_count, 2, "dead-letter receives do not count");
        assert!(s.visible_dead(61_000, 10).is_empty());
        assert_eq!(
            s.restore(&mut log, (0, 7), dl.generation - 1, 62_000),
            Err(Refusal::Stale)
        );
        s.restore(&mut log, (0, 7), dl.generation, 62_000).unwrap();
        assert_eq!(s.dead_count(), 0);
        assert_eq!(s.visible_normal(&mut log, 62_000, 10, Some(2)), [(0, 7)]);
        let again = s.deliver(&mut log, (0, 7), 100, 62_000, 30_000);
        assert_eq!(again.receive_count, 1, "a restore resets the count");
        s.acknowledge(&mut log, (0, 7), again.generation, false)
            .unwrap();
        assert_eq!(
            s.acknowledge(&mut log, (0, 7), again.generation, false),
            Err(Refusal::NotFound)
        );
        same(&s, &replayed(&log));
    }

    #[test]
    fn without_dead_lettering_records_come_back_forever() {
        let mut s = DeliveryState::default();
        let mut log = Vec::new();
        let mut now = 0;
        for n in 1..=20 {
            assert_eq!(
                s.visible_normal(&mut log, now, 10, None).len(),
                usize::from(n > 1)
            );
            let u = s.deliver(&mut log, (3, 1), 0, now, 1_000);
            assert_eq!(u.receive_count, n);
            now += 1_000;
        }
        assert_eq!(s.dead_count(), 0);
    }

    #[test]
    fn visibility_changes_and_kinds() {
        let mut s = DeliveryState::default();
        let mut log = Vec::new();
        let u = s.deliver(&mut log, (1, 1), 0, 0, 60_000);
        s.set_visibility(&mut log, (1, 1), u.generation, false, 10_000, 0)
            .unwrap();
        assert_eq!(s.visible_normal(&mut log, 10_000, 10, Some(6)), [(1, 1)]);
        assert_eq!(
            s.set_visibility(&mut log, (1, 1), u.generation, true, 10_000, 5),
            Err(Refusal::WrongKind)
        );
        assert_eq!(
            s.restore(&mut log, (1, 1), u.generation, 10_000),
            Err(Refusal::WrongKind)
        );
        assert_eq!(
            s.acknowledge(&mut log, (1, 1), u.generation, true),
            Err(Refusal::WrongKind)
        );
        s.advance(&mut log, 1, 2);
        s.expire(&mut log, 1);
        assert!(s.get((1, 1)).is_none(), "past retention");
        same(&s, &replayed(&log));
    }

    #[test]
    fn snapshot_rebuilds_the_state() {
        let mut s = DeliveryState::default();
        let mut log = Vec::new();
        for i in 0..100u64 {
            s.advance(&mut log, (i % 4) as u32, i + 1);
            s.deliver(&mut log, ((i % 4) as u32, i), i, i, 1_000 * i);
        }
        let _ = s.visible_normal(&mut log, 50_000, 100, Some(1));
        let chunks = s.snapshot(7);
        assert!(chunks.len() > 1);
        same(&s, &replayed(&chunks.concat()));
    }
}
