//! File-system helpers every part of the disk storage uses: opening files the same way, making
//! directory changes durable, deleting what may already be gone.

use std::fs::{self, File};
use std::io;
use std::path::Path;

/// Fsyncs a directory, making entries created, renamed or deleted in it durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Opens an existing file for reading and writing (segments, spare journal files).
pub(super) fn open_rw(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new().read(true).write(true).open(path)
}

/// Creates a file, or empties an existing one, for reading and writing (new segments, journal
/// files when no spare is ready).
pub(super) fn create_rw(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Deletes a directory and everything in it; one that is not there is fine.
pub(super) fn remove_dir_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Deletes a file; one that is not there is fine.
pub(super) fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
