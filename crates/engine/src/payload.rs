//! How a Kinesis record is stored as a log entry payload. The sequence number and arrival
//! time are not stored: they derive from the entry's offset and timestamp.
//!
//! ```text
//! plain:      [u8 0][u16 LE partition-key length][partition key][data]
//! encrypted:  [u8 1][u64 LE data key id][nonce (12)][AES-256-GCM(plain payload) + tag (16)]
//! ```

use bytes::Bytes;
use shardline_wire::ByteString;

const FORMAT_PLAIN: u8 = 0;
const FORMAT_SEALED: u8 = 1;

/// A plain payload.
pub fn encode(partition_key: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plain_len(partition_key, data));
    encode_into(&mut out, partition_key, data);
    out
}

/// Bytes of a plain payload.
pub fn plain_len(partition_key: &str, data: &[u8]) -> usize {
    3 + partition_key.len() + data.len()
}

/// Appends a plain payload to `out` (a PutRecords call encodes all its records into one buffer).
pub fn encode_into(out: &mut Vec<u8>, partition_key: &str, data: &[u8]) {
    let key = partition_key.as_bytes();
    out.push(FORMAT_PLAIN);
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(data);
}

/// Appends an encrypted payload around `sealed`, the sealed form of a plain payload.
pub fn encode_sealed_into(out: &mut Vec<u8>, key_id: u64, sealed: &[u8]) {
    out.push(FORMAT_SEALED);
    out.extend_from_slice(&key_id.to_le_bytes());
    out.extend_from_slice(sealed);
}

/// An encrypted payload around `sealed`.
#[cfg(test)]
pub fn encode_sealed(key_id: u64, sealed: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_sealed_into(&mut out, key_id, sealed);
    out
}

/// A stored payload, before decryption.
pub enum Stored<'a> {
    Plain(&'a Bytes),
    Sealed { key_id: u64, sealed: &'a [u8] },
}

pub fn classify(payload: &Bytes) -> Option<Stored<'_>> {
    match *payload.first()? {
        FORMAT_PLAIN => Some(Stored::Plain(payload)),
        FORMAT_SEALED if payload.len() >= 9 => Some(Stored::Sealed {
            key_id: u64::from_le_bytes(payload[1..9].try_into().ok()?),
            sealed: &payload[9..],
        }),
        _ => None,
    }
}

/// Splits a plain payload into (partition key, data) without copying the data.
pub fn decode(payload: &Bytes) -> Option<(ByteString, Bytes)> {
    if payload.len() < 3 || payload[0] != FORMAT_PLAIN {
        return None;
    }
    let key_len = u16::from_le_bytes([payload[1], payload[2]]) as usize;
    let key_end = 3 + key_len;
    if payload.len() < key_end {
        return None;
    }
    let key = ByteString::try_from(payload.slice(3..key_end)).ok()?;
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
        let s = Bytes::from(encode_sealed(42, b"xyz"));
        match classify(&s) {
            Some(Stored::Sealed { key_id, sealed }) => {
                assert_eq!(key_id, 42);
                assert_eq!(sealed, b"xyz");
            }
            _ => panic!("not sealed"),
        }
    }
}
