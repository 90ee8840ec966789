//! Recovery on damaged files: a small data directory (two partitions, a sealed segment with its
//! index, an active one, the journal, the manifest) has one of its files overwritten in part,
//! cut short or grown; opening it and reading everything back must give data or an error, never
//! a panic or a hang.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shardline_log::{DiskOptions, DiskStorage, Durability, Storage};

/// The undamaged directory, made once per process.
fn template() -> &'static (tempfile::TempDir, Vec<PathBuf>) {
    static TEMPLATE: OnceLock<(tempfile::TempDir, Vec<PathBuf>)> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let s = DiskStorage::open(options(dir.path())).expect("open template");
            s.store_manifest(b"{\"streams\":[]}").expect("manifest");
            for p in 1..=2 {
                s.create_partition(p).expect("partition");
                for i in 0..40u64 {
                    let payload = format!("record {i} of partition {p}");
                    // Relaxed durability: written at once, no waiting on a commit.
                    s.append(p, 1_000 + i, &[payload.as_bytes()]).expect("append");
                }
            }
        }
        let mut files = Vec::new();
        collect(dir.path(), &mut files);
        files.sort();
        (dir, files)
    })
}

fn options(dir: &Path) -> DiskOptions {
    let mut o = DiskOptions::new(dir);
    o.durability = Durability::Relaxed;
    o.segment_bytes = 1024;
    o.index_interval_bytes = 128;
    o
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if !path.ends_with("LOCK") {
            out.push(path);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            copy_file(&entry.path(), &target);
        }
    }
}

/// `std::fs::copy`, again when a signal interrupts it (libFuzzer's timers do; the harness, not
/// the storage, once stopped on that).
fn copy_file(from: &Path, to: &Path) {
    for _ in 0..100 {
        match std::fs::copy(from, to) {
            Ok(_) => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("copy {}: {e}", from.display()),
        }
    }
    panic!("copy {}: interrupted 100 times", from.display());
}

fuzz_target!(|input: &[u8]| {
    let (template, files) = template();
    let [which, how, a, b, rest @ ..] = input else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    copy_dir(template.path(), work.path());
    let relative = files[usize::from(*which) % files.len()]
        .strip_prefix(template.path())
        .expect("inside the template");
    let file = work.path().join(relative);
    let mut bytes = std::fs::read(&file).expect("read");
    let at = (usize::from(*a) << 8 | usize::from(*b)) % (bytes.len() + 1);
    match how % 3 {
        // Overwrite from `at`.
        0 => {
            for (i, byte) in rest.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + i) {
                    *slot = *byte;
                }
            }
        }
        // Cut short at `at`.
        1 => bytes.truncate(at),
        // Grow by the rest (a torn write past the end).
        _ => bytes.extend_from_slice(rest),
    }
    std::fs::write(&file, &bytes).expect("write");
    let Ok(storage) = DiskStorage::open(options(work.path())) else {
        return;
    };
    let _ = storage.load_manifest();
    for p in storage.partitions() {
        let mut from = 0;
        for _ in 0..100 {
            match storage.read(p, from, 16, 1 << 20) {
                Ok(entries) if !entries.is_empty() => {
                    from = entries.last().map_or(from, |e| e.offset + 1);
                }
                _ => break,
            }
        }
        let _ = storage.bounds(p);
        let _ = storage.offset_at_time(p, 1_020);
    }
});
