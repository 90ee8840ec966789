//! A write that runs out of space fails the append cleanly.
//!
//! "Disk full" is simulated with `RLIMIT_FSIZE`: with `SIGXFSZ` ignored, a write crossing the
//! limit writes what fits and then fails with `EFBIG`, just like a partial write on a full
//! disk. The limit is per process, so this file holds a single test.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use std::fs;

use common::*;
use shardline_log::{LogError, Storage};

#[repr(C)]
struct Rlimit {
    cur: u64,
    max: u64,
}

extern "C" {
    fn getrlimit(resource: i32, rlim: *mut Rlimit) -> i32;
    fn setrlimit(resource: i32, rlim: *const Rlimit) -> i32;
    fn signal(signum: i32, handler: usize) -> usize;
}

const RLIMIT_FSIZE: i32 = 1;
const SIGXFSZ: i32 = 25;
const SIG_IGN: usize = 1;

fn set_file_size_limit(cur: u64) -> u64 {
    let mut old = Rlimit { cur: 0, max: 0 };
    // SAFETY: plain libc calls with valid pointers to properly laid out structs.
    unsafe {
        assert_eq!(getrlimit(RLIMIT_FSIZE, &mut old), 0);
        let new = Rlimit { cur, max: old.max };
        assert_eq!(setrlimit(RLIMIT_FSIZE, &new), 0);
    }
    old.cur
}

#[test]
fn write_failure_truncates_back_and_leaves_state_unchanged() {
    // SAFETY: ignoring a signal has no memory-safety implications.
    unsafe { signal(SIGXFSZ, SIG_IGN) };
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 1 << 20);
    s.create_partition(1).unwrap();
    fill(&s, 1, 0..10, |i| 100 + i);
    let seg = files(dir.path(), 1, "seg").pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();

    let old = set_file_size_limit(len + 100);
    let big = [b'z'; 60];
    let result = s.append(1, 200, &[&big, &big, &big, &big]);
    set_file_size_limit(old);

    assert!(matches!(result, Err(LogError::Io(_))), "append must fail");
    assert_eq!(
        fs::metadata(&seg).unwrap().len(),
        len,
        "partial write undone"
    );
    assert_eq!(s.bounds(1).unwrap().end, 10);
    assert_entries(&read_all(&s, 1).unwrap(), 0..10);

    // Not poisoned: the next append goes exactly where the failed one would have.
    fill(&s, 1, 10..15, |i| 100 + i);
    assert_entries(&read_all(&s, 1).unwrap(), 0..15);
    drop(s);
    let s = open(dir.path(), 1 << 20);
    assert_entries(&read_all(&s, 1).unwrap(), 0..15);
}
