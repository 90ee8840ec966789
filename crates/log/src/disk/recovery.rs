//! Rebuilding a partition's in-memory state from its directory at open.
//!
//! Rules, in order:
//!
//! 1. `*.seg` files are the partition's segments, sorted by the base offset in their names.
//!    A `.idx` without its `.seg` is deleted; unknown files are left alone (with a warning).
//!    A directory without segments gets a fresh empty segment at offset 0.
//! 2. A *sealed* segment (every one but the last) loads its `.idx` if the checksum is valid and
//!    it matches the segment file (base offset, byte length); otherwise the segment is scanned
//!    and the `.idx` rewritten. Sealed segments were fsynced before their successor was
//!    created, so a scan finding a bad record means real damage: the segment is kept, an error
//!    is logged, and reading the damaged range returns [`LogError::Corrupt`]. (Garbage *after*
//!    a sealed segment's last record, when the next segment continues right at its end
//!    offset, is simply truncated.)
//! 3. The *last* segment is always scanned from its first record, verifying framing,
//!    checksums and offset contiguity. At the first record that fails, the file is truncated
//!    (and fsynced): that record and everything after it were never acknowledged as durable,
//!    or are unreadable. A stale `.idx` of the last segment is deleted, and a damaged header
//!    is rewritten.
//! 4. Consecutive segments must be contiguous: a gap (a sealed segment ending early) makes
//!    the missing range read as corrupt; an overlap refuses to open the partition.
//! 5. Everything that remains is visible: the partition's end offset is the last segment's.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::files::{open_rw, sync_dir};
use super::index::{IndexEntry, IndexFile, SparseIndex};
use super::record::{RecordReader, Scan};
use super::segment::Segment;
use super::segment_file::{
    index_path, parse_file_name, segment_path, FileKind, SegmentHeader, SEGMENT_HEADER_LEN,
};
use crate::{LogError, PartitionId};

/// Read size used when scanning a whole segment.
const SCAN_CHUNK: usize = 1 << 20;

/// A partition's segments and newest timestamp, as found on disk.
pub(super) struct Recovered {
    pub segments: Vec<Segment>,
    pub last_ts: Option<u64>,
    /// Tells this partition apart from an earlier one with the same id (see `journal.rs`).
    pub incarnation: u64,
}

/// Name of the file holding a partition's incarnation (8 bytes, little-endian).
const INCARNATION_FILE: &str = "incarnation";

/// A random number, so two creations of a partition with the same id differ.
fn new_incarnation() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // std's RandomState is seeded from the OS's randomness; mixing in the time also keeps
    // two creations within one process apart.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.finish().clamp(1, u64::MAX - 1)
}

/// A partition's incarnation; 0 for a directory without the file (none was ever journaled
/// under a number, so 0 matches only frames written while this directory existed).
fn read_incarnation(dir: &Path) -> io::Result<u64> {
    match fs::read(dir.join(INCARNATION_FILE)) {
        Ok(bytes) => match bytes.get(..8).and_then(|b| b.try_into().ok()) {
            Some(b) => Ok(u64::from_le_bytes(b)),
            None => {
                tracing::warn!(dir = %dir.display(), "unreadable incarnation file; journal frames for this partition will not be replayed");
                Ok(u64::MAX)
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// Creates the directory and first segment of a new partition, durably.
pub(super) fn create(dir: &Path) -> Result<Recovered, LogError> {
    fs::create_dir(dir)?;
    let incarnation = new_incarnation();
    let marker = File::create(dir.join(INCARNATION_FILE))?;
    marker.write_all_at(&incarnation.to_le_bytes(), 0)?;
    marker.sync_all()?;
    let (segment, file) = Segment::create(dir, 0, 0)?;
    file.sync_all()?;
    sync_dir(dir)?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(Recovered {
        segments: vec![segment],
        last_ts: None,
        incarnation,
    })
}

/// What a scan of a segment found.
struct Scanned {
    /// One past the last good record's offset.
    next: u64,
    /// End of the last good record.
    len: u64,
    last_ts: Option<u64>,
    index: SparseIndex,
    /// Position and description of the first bad record, if any.
    bad: Option<(u64, String)>,
}

fn scan(file: &File, base: u64, file_len: u64, interval: u64) -> io::Result<Scanned> {
    let mut reader = RecordReader::new(file, SEGMENT_HEADER_LEN, file_len, base, SCAN_CHUNK);
    let mut index = SparseIndex::default();
    let mut last_ts = None;
    let bad = loop {
        match reader.next()? {
            Scan::Record(r) => {
                index.observe(
                    IndexEntry {
                        offset: r.offset,
                        pos: r.pos,
                        timestamp_ms: r.timestamp_ms,
                    },
                    interval,
                );
                last_ts = Some(r.timestamp_ms);
            }
            Scan::End => break None,
            Scan::Bad { pos, reason } => break Some((pos, reason)),
        }
    };
    Ok(Scanned {
        next: reader.expected(),
        len: reader.pos(),
        last_ts,
        index,
        bad,
    })
}

/// Rebuilds a partition from its directory (see the module doc).
pub(super) fn recover(dir: &Path, id: PartitionId, interval: u64) -> Result<Recovered, LogError> {
    let mut bases = BTreeSet::new();
    let mut indexes = BTreeSet::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == INCARNATION_FILE {
            continue;
        }
        match name.to_str().and_then(parse_file_name) {
            Some((base, FileKind::Segment)) => {
                bases.insert(base);
            }
            Some((base, FileKind::Index)) => {
                indexes.insert(base);
            }
            None => tracing::warn!(
                partition = id,
                file = %entry.path().display(),
                "ignoring unexpected file in partition directory"
            ),
        }
    }
    for orphan in indexes.difference(&bases) {
        tracing::info!(
            partition = id,
            base = orphan,
            "deleting index without segment"
        );
        let _ = fs::remove_file(index_path(dir, *orphan));
    }
    let Some(&last_base) = bases.last() else {
        tracing::warn!(partition = id, "partition has no segments; starting empty");
        let (segment, file) = Segment::create(dir, 0, 0)?;
        file.sync_all()?;
        sync_dir(dir)?;
        return Ok(Recovered {
            segments: vec![segment],
            last_ts: None,
            incarnation: read_incarnation(dir)?,
        });
    };

    let mut segments: Vec<Segment> = Vec::with_capacity(bases.len());
    // Indices into `segments` of damaged segments, with where their good records end.
    let mut damaged: Vec<(usize, u64)> = Vec::new();
    let mut floor_ts = None;
    for &base in &bases {
        let (segment, bad_after) = if base == last_base {
            let prev_ts = segments.iter().rev().find_map(|s| s.last_ts);
            let (segment, floor) =
                recover_active(dir, id, base, prev_ts, indexes.contains(&base), interval)?;
            floor_ts = floor;
            (segment, None)
        } else {
            recover_sealed(dir, id, base, indexes.contains(&base), interval)?
        };
        if let Some(prev_index) = segments.len().checked_sub(1) {
            let prev = &mut segments[prev_index];
            if segment.base < prev.next {
                return Err(LogError::Corrupt {
                    what: segment_path(dir, base).display().to_string(),
                    detail: format!(
                        "starts at offset {base} but the previous segment ends at {}",
                        prev.next
                    ),
                });
            }
            let prev_damage = damaged.iter().position(|&(i, _)| i == prev_index);
            if segment.base == prev.next {
                if let Some(k) = prev_damage {
                    // Every offset is accounted for: the bad bytes were trailing garbage.
                    let (_, good_len) = damaged.swap_remove(k);
                    drop_sealed_tail(dir, id, prev, good_len)?;
                }
            } else {
                tracing::error!(
                    partition = id,
                    segment = %segment_path(dir, prev.base).display(),
                    "offsets {}..{} are missing; reading them will fail",
                    prev.next,
                    segment.base
                );
                if prev_damage.is_none() {
                    damaged.push((prev_index, prev.len));
                }
                prev.next = segment.base;
            }
        }
        if let Some(good_len) = bad_after {
            damaged.push((segments.len(), good_len));
        }
        segments.push(segment);
    }

    // A damaged segment's true last timestamp is unknown; bound it from above by the next
    // segment's first timestamp, so trimming never drops it too early.
    for &(i, _) in &damaged {
        let next_first = segments[i + 1..]
            .iter()
            .find_map(|s| s.index.entries().first().map(|e| e.timestamp_ms));
        let seg = &mut segments[i];
        seg.last_ts = match (seg.last_ts, next_first) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b).or(Some(0)),
        };
    }

    let newest = segments.iter().rev().find_map(|s| s.last_ts);
    let last_ts = match (newest, floor_ts) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let last = segments.last().expect("at least one segment");
    tracing::debug!(
        partition = id,
        segments = segments.len(),
        start = segments[0].base,
        end = last.next,
        "recovered partition"
    );
    Ok(Recovered {
        segments,
        last_ts,
        incarnation: read_incarnation(dir)?,
    })
}

/// Loads a sealed segment. Returns it and, if a scan found bad bytes, where its good records
/// end (the segment then keeps its full length, so reads run into the damage and report it).
fn recover_sealed(
    dir: &Path,
    id: PartitionId,
    base: u64,
    has_index: bool,
    interval: u64,
) -> Result<(Segment, Option<u64>), LogError> {
    let path = segment_path(dir, base);
    let file = open_rw(&path)?;
    let file_len = file.metadata()?.len();
    match SegmentHeader::read(&file)? {
        Ok(h) if h.base == base => {}
        Ok(h) => tracing::error!(
            partition = id,
            segment = %path.display(),
            "header names base offset {}; trusting the file name",
            h.base
        ),
        Err(reason) => tracing::error!(
            partition = id,
            segment = %path.display(),
            %reason,
            "damaged segment header; trusting the file name"
        ),
    }

    let idx = index_path(dir, base);
    if has_index {
        match IndexFile::read(&idx, base, file_len) {
            Ok(Ok(index)) => {
                let segment = Segment {
                    base,
                    next: index.next,
                    len: file_len,
                    last_ts: (index.next > base).then_some(index.last_ts),
                    index: index.index,
                    path: Arc::from(path),
                    unflushed: 0,
                };
                return Ok((segment, None));
            }
            Ok(Err(reason)) => tracing::warn!(
                partition = id,
                index = %idx.display(),
                %reason,
                "unusable segment index; rebuilding"
            ),
            Err(err) => tracing::warn!(
                partition = id,
                index = %idx.display(),
                error = %err,
                "unreadable segment index; rebuilding"
            ),
        }
    } else {
        tracing::info!(partition = id, segment = %path.display(), "sealed segment has no index; rebuilding");
    }

    let scanned = scan(&file, base, file_len, interval)?;
    if let Some((pos, reason)) = &scanned.bad {
        tracing::error!(
            partition = id,
            segment = %path.display(),
            pos,
            %reason,
            "sealed segment is damaged after offset {}",
            scanned.next
        );
    }
    let bad_after = scanned.bad.is_some().then_some(scanned.len);
    let segment = Segment {
        base,
        next: scanned.next,
        len: if bad_after.is_some() {
            file_len
        } else {
            scanned.len
        },
        last_ts: scanned.last_ts,
        index: scanned.index,
        path: Arc::from(path),
        unflushed: 0,
    };
    if bad_after.is_none() {
        write_index(dir, &segment);
    }
    Ok((segment, bad_after))
}

/// Truncates garbage found after the last record of a sealed segment (all its offsets were
/// found intact) and writes its index.
fn drop_sealed_tail(
    dir: &Path,
    id: PartitionId,
    segment: &mut Segment,
    good_len: u64,
) -> Result<(), LogError> {
    tracing::warn!(
        partition = id,
        segment = %segment_path(dir, segment.base).display(),
        dropped_bytes = segment.len - good_len,
        "truncating garbage after the last record of a sealed segment"
    );
    let file = open_rw(&segment.path)?;
    file.set_len(good_len)?;
    file.sync_all()?;
    segment.len = good_len;
    write_index(dir, segment);
    Ok(())
}

fn write_index(dir: &Path, segment: &Segment) {
    let idx = index_path(dir, segment.base);
    if let Err(err) = segment.index_file().write(&idx) {
        tracing::warn!(index = %idx.display(), error = %err, "could not write segment index");
    }
}

/// Recovers the last segment: repairs its header, scans it and truncates at the first bad
/// record. Returns it and the floor timestamp from its header (if the header was intact).
fn recover_active(
    dir: &Path,
    id: PartitionId,
    base: u64,
    prev_ts: Option<u64>,
    has_index: bool,
    interval: u64,
) -> Result<(Segment, Option<u64>), LogError> {
    let path = segment_path(dir, base);
    let file = open_rw(&path)?;
    let mut changed = false;
    if has_index {
        // Sealed once, but a failed roll or a crash left it last: it will take appends.
        fs::remove_file(index_path(dir, base))?;
    }
    let floor = match SegmentHeader::read(&file)? {
        Ok(h) if h.base == base => Some(h.floor_ts),
        header => {
            let reason = match header {
                Ok(h) => format!("header names base offset {}", h.base),
                Err(reason) => reason,
            };
            tracing::warn!(
                partition = id,
                segment = %path.display(),
                %reason,
                "rewriting damaged header of the last segment"
            );
            let header = SegmentHeader {
                base,
                floor_ts: prev_ts.unwrap_or(0),
            };
            file.write_all_at(&header.encode(), 0)?;
            changed = true;
            None
        }
    };
    let file_len = file.metadata()?.len();
    let scanned = scan(&file, base, file_len, interval)?;
    if let Some((pos, reason)) = &scanned.bad {
        tracing::warn!(
            partition = id,
            segment = %path.display(),
            pos,
            %reason,
            dropped_bytes = file_len - pos,
            "torn or corrupt tail; truncating after offset {}",
            scanned.next.saturating_sub(1)
        );
        file.set_len(*pos)?;
        changed = true;
    }
    if changed {
        file.sync_all()?;
    }
    let segment = Segment {
        base,
        next: scanned.next,
        len: scanned.len,
        last_ts: scanned.last_ts,
        index: scanned.index,
        path: Arc::from(path),
        unflushed: 0,
    };
    Ok((segment, floor))
}
