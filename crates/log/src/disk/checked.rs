//! The framing shared by the storage's small self-describing files (a segment's header, a
//! segment's `.idx`, the manifest): a 4-byte magic, a little-endian version, and a CRC-32 of
//! every byte before it at the very end.
//!
//! ```text
//!  0       4                      4 + version_len                      len - 4     len
//!  +-------+----------------------+--------------------------------------+-----------+
//!  | magic | version (u16 or u32) | the file's own fields                | crc32 u32 |
//!  +-------+----------------------+--------------------------------------+-----------+
//! ```

/// The magic and version of one kind of checked file.
pub(super) struct Checked {
    pub magic: &'static [u8; 4],
    pub version: u32,
    /// Bytes of the version field: 2 or 4.
    pub version_len: usize,
}

impl Checked {
    /// Starts a file: its magic and version, in a buffer of `capacity`.
    pub fn begin(&self, capacity: usize) -> Vec<u8> {
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(self.magic);
        buf.extend_from_slice(&self.version.to_le_bytes()[..self.version_len]);
        buf
    }

    /// Ends a file: appends the CRC-32 of everything before it.
    pub fn finish(buf: &mut Vec<u8>) {
        let crc = crc32fast::hash(buf);
        buf.extend_from_slice(&crc.to_le_bytes());
    }

    /// Checks a whole file of at least `min_len` bytes (checksum included) and returns it
    /// without its checksum. `Err` says what is wrong: too short, checksum, magic, version.
    pub fn open<'a>(&self, bytes: &'a [u8], min_len: usize) -> Result<&'a [u8], String> {
        let min_len = min_len.max(4 + self.version_len + 4);
        if bytes.len() < min_len {
            return Err(format!("too short ({} bytes)", bytes.len()));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let mut stored = [0u8; 4];
        stored.copy_from_slice(crc);
        if crc32fast::hash(body) != u32::from_le_bytes(stored) {
            return Err("checksum mismatch".into());
        }
        if &body[0..4] != self.magic {
            return Err("bad magic".into());
        }
        let mut version = [0u8; 4];
        version[..self.version_len].copy_from_slice(&body[4..4 + self.version_len]);
        let version = u32::from_le_bytes(version);
        if version != self.version {
            return Err(format!("unknown version {version}"));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::Checked;

    const KIND: Checked = Checked {
        magic: b"TEST",
        version: 3,
        version_len: 2,
    };

    #[test]
    fn a_finished_file_opens_and_any_flipped_bit_is_caught() {
        let mut buf = KIND.begin(16);
        buf.extend_from_slice(b"fields");
        Checked::finish(&mut buf);
        assert_eq!(buf.len(), 4 + 2 + 6 + 4);
        assert_eq!(KIND.open(&buf, 0).unwrap(), &buf[..buf.len() - 4]);
        for i in 0..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[i] ^= 1 << bit;
                assert!(KIND.open(&bad, 0).is_err(), "byte {i} bit {bit}");
            }
        }
        assert_eq!(KIND.open(&buf, 17), Err("too short (16 bytes)".into()));
        assert!(KIND.open(&buf[..buf.len() - 1], 0).is_err());
    }

    #[test]
    fn another_version_is_refused_by_name() {
        let other = Checked { version: 4, ..KIND };
        let mut buf = other.begin(8);
        Checked::finish(&mut buf);
        assert_eq!(KIND.open(&buf, 0), Err("unknown version 4".into()));
    }
}
