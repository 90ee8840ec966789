//! How a Kinesis record is stored as a log entry payload:
//! `[u8 format = 0][u16 LE partition-key length][partition key][data]`.
//! The sequence number and arrival time are not stored: they derive from the entry's offset
//! and timestamp.

use bytes::Bytes;

const FORMAT_PLAIN: u8 = 0;

pub fn encode(partition_key: &str, data: &[u8]) -> Vec<u8> {
    let key = partition_key.as_bytes();
    let mut out = Vec::with_capacity(3 + key.len() + data.len());
    out.push(FORMAT_PLAIN);
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(data);
    out
}

/// Splits a stored payload into (partition key, data) without copying the data.
pub fn decode(payload: &Bytes) -> Option<(String, Bytes)> {
    if payload.len() < 3 || payload[0] != FORMAT_PLAIN {
        return None;
    }
    let key_len = u16::from_le_bytes([payload[1], payload[2]]) as usize;
    let key_end = 3 + key_len;
    if payload.len() < key_end {
        return None;
    }
    let key = std::str::from_utf8(&payload[3..key_end]).ok()?.to_string();
    Some((key, payload.slice(key_end..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = Bytes::from(encode("ключ", b"data"));
        let (k, d) = decode(&p).unwrap();
        assert_eq!(k, "ключ");
        assert_eq!(&d[..], b"data");
        assert_eq!(decode(&Bytes::from_static(b"\x01\x00\x00")), None);
    }
}
