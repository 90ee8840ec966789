//! The manifest: one small blob, replaced atomically and durably.
//!
//! Stored as `<dir>/manifest` (integers little-endian):
//!
//! ```text
//!  0      4          8             16
//!  +------+----------+-------------+-------------------+-----------+
//!  | SLMF | ver u32  | length u64  | payload (length B) | crc32 u32 |
//!  +------+----------+-------------+-------------------+-----------+
//! ```
//!
//! `crc32` covers every byte before it. A replacement is written to `manifest.tmp`, fsynced,
//! renamed over `manifest`, and the directory fsynced, so a crash leaves either the old or the
//! new manifest, never a mix. A leftover `manifest.tmp` is deleted at open. A manifest that
//! fails its checks is reported as [`LogError::Corrupt`], never silently ignored.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::checked::Checked;
use super::files::sync_dir;
use crate::LogError;

const FORMAT: Checked = Checked {
    magic: b"SLMF",
    version: 1,
    version_len: 4,
};
const HEADER_LEN: usize = 16;

pub(super) struct Manifest {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
    /// Serializes writers (they share the temporary file).
    write_lock: Mutex<()>,
}

impl Manifest {
    pub fn open(dir: &Path) -> Result<Manifest, LogError> {
        let manifest = Manifest {
            dir: dir.to_path_buf(),
            path: dir.join("manifest"),
            tmp: dir.join("manifest.tmp"),
            write_lock: Mutex::new(()),
        };
        match fs::remove_file(&manifest.tmp) {
            Ok(()) => tracing::info!("deleted leftover manifest.tmp"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(manifest)
    }

    pub fn load(&self) -> Result<Option<Vec<u8>>, LogError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        decode(&bytes)
            .map(Some)
            .map_err(|detail| LogError::Corrupt {
                what: self.path.display().to_string(),
                detail,
            })
    }

    pub fn store(&self, payload: &[u8]) -> Result<(), LogError> {
        let _guard = self.write_lock.lock();
        let mut file = File::create(&self.tmp)?;
        file.write_all(&encode(payload))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.path)?;
        sync_dir(&self.dir)?;
        Ok(())
    }
}

fn encode(payload: &[u8]) -> Vec<u8> {
    let mut buf = FORMAT.begin(HEADER_LEN + payload.len() + 4);
    buf.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    buf.extend_from_slice(payload);
    Checked::finish(&mut buf);
    buf
}

fn decode(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let body = FORMAT.open(bytes, HEADER_LEN + 4)?;
    let len = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
    if len != (body.len() - HEADER_LEN) as u64 {
        return Err(format!(
            "length field says {len} bytes but {} are present",
            body.len() - HEADER_LEN
        ));
    }
    Ok(body[HEADER_LEN..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_roundtrip_and_damage() {
        let bytes = encode(b"hello");
        assert_eq!(decode(&bytes).unwrap(), b"hello");
        assert_eq!(decode(&encode(b"")).unwrap(), b"");
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x80;
            assert!(decode(&bad).is_err(), "byte {i}");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&[]).is_err());
    }
}
