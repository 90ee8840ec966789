//! `application/vnd.amazon.eventstream` message framing (SubscribeToShard responses):
//!
//! ```text
//! [u32 total length][u32 headers length][u32 CRC32 of the first 8 bytes]
//! [headers][payload][u32 CRC32 of everything before it]
//! header = [u8 name length][name][u8 type = 7 (string)][u16 value length][value]
//! ```
//! All integers big-endian; CRC32 is IEEE (zlib). Kinesis only sends string headers; the
//! [`Decoder`] (for clients) understands every header type and keeps the strings.

use bytes::{Buf, Bytes, BytesMut};

pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

const STRING_HEADER: u8 = 7;

/// Encodes one message with string headers.
pub fn message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let headers_len: usize = headers
        .iter()
        .map(|(name, value)| 1 + name.len() + 1 + 2 + value.len())
        .sum();
    let total = 12 + headers_len + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers_len as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    for (name, value) in headers {
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.push(STRING_HEADER);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// An `event` message carrying a JSON payload.
pub fn event(event_type: &str, json: &[u8]) -> Vec<u8> {
    message(
        &[
            (":message-type", "event"),
            (":event-type", event_type),
            (":content-type", "application/json"),
        ],
        json,
    )
}

/// A modeled `exception` message, e.g. ResourceInUseException, with `{"message": ...}`.
pub fn exception(exception_type: &str, message_text: &str) -> Vec<u8> {
    let payload = serde_json::json!({ "message": message_text }).to_string();
    message(
        &[
            (":message-type", "exception"),
            (":exception-type", exception_type),
            (":content-type", "application/json"),
        ],
        payload.as_bytes(),
    )
}

// ---------------------------------------------------------------------------------------------
// Decoding (clients' side)

/// Messages larger than this are refused (AWS's limit is 16 MiB).
const MAX_MESSAGE: usize = 24 * 1024 * 1024;

/// One decoded message.
#[derive(Debug)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
}

impl Message {
    /// The value of a string header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a byte stream into messages.
#[derive(Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, if one has arrived.
    ///
    /// # Errors
    /// A corrupt frame (bad length or CRC, truncated header); the stream cannot go on.
    pub fn next_message(&mut self) -> Result<Option<Message>, String> {
        if self.buf.len() < 12 {
            return Ok(None);
        }
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let total = be32(&self.buf[0..4]) as usize;
        let headers_len = be32(&self.buf[4..8]) as usize;
        if crc32fast::hash(&self.buf[0..8]) != be32(&self.buf[8..12]) {
            return Err("event stream prelude CRC mismatch".into());
        }
        if !(16..=MAX_MESSAGE).contains(&total) || headers_len > total - 16 {
            return Err(format!(
                "event stream frame of {total} bytes with {headers_len} bytes of headers"
            ));
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let frame = self.buf.split_to(total).freeze();
        if crc32fast::hash(&frame[..total - 4]) != be32(&frame[total - 4..]) {
            return Err("event stream message CRC mismatch".into());
        }
        let headers = parse_headers(&frame[12..12 + headers_len])?;
        let payload = frame.slice(12 + headers_len..total - 4);
        Ok(Some(Message { headers, payload }))
    }
}

fn parse_headers(mut b: &[u8]) -> Result<Vec<(String, String)>, String> {
    let truncated = || "truncated event stream header".to_string();
    let mut out = Vec::new();
    while b.has_remaining() {
        let name_len = usize::from(b.get_u8());
        if b.remaining() < name_len + 1 {
            return Err(truncated());
        }
        let name = String::from_utf8_lossy(&b[..name_len]).into_owned();
        b.advance(name_len);
        let kind = b.get_u8();
        let fixed = match kind {
            0 | 1 => Some(0), // bool true / false
            2 => Some(1),     // byte
            3 => Some(2),     // short
            4 => Some(4),     // int
            5 | 8 => Some(8), // long, timestamp
            9 => Some(16),    // uuid
            6 | 7 => None,    // bytes, string: u16 length first
            other => return Err(format!("event stream header type {other}")),
        };
        match fixed {
            Some(n) => {
                if b.remaining() < n {
                    return Err(truncated());
                }
                b.advance(n);
            }
            None => {
                if b.remaining() < 2 {
                    return Err(truncated());
                }
                let len = usize::from(b.get_u16());
                if b.remaining() < len {
                    return Err(truncated());
                }
                if kind == 7 {
                    out.push((name, String::from_utf8_lossy(&b[..len]).into_owned()));
                }
                b.advance(len);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn initial_response_matches_the_reference_vector() {
        let frame = event("initial-response", b"{}");
        assert_eq!(frame.len(), 104);
        assert_eq!(
            hex(&frame),
            "00000068000000564e6817240d3a6d6573736167652d747970650700056576656e740b3a6576656e742d74797065070010696e697469616c2d726573706f6e73650d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b7dfe942c1d"
        );
    }

    #[test]
    fn exception_matches_the_reference_vector() {
        let frame = exception(
            "ResourceInUseException",
            "Another active subscription exists",
        );
        assert_eq!(
            hex(&frame),
            "000000a400000064aa5a437e0d3a6d6573736167652d74797065070009657863657074696f6e0f3a657863657074696f6e2d747970650700165265736f75726365496e557365457863657074696f6e0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b226d657373616765223a22416e6f746865722061637469766520737562736372697074696f6e20657869737473227dba79d822"
        );
    }

    #[test]
    fn decodes_what_the_server_encodes_whatever_the_chunking() {
        let mut stream = event("initial-response", b"{}");
        stream.extend(event("SubscribeToShardEvent", br#"{"Records":[]}"#));
        stream.extend(exception("ResourceInUseException", "taken"));
        for chunk in [1, 3, 7, 64, stream.len()] {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                d.push(piece);
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got.len(), 3, "chunk {chunk}");
            assert_eq!(got[0].header(":event-type"), Some("initial-response"));
            assert_eq!(&got[0].payload[..], b"{}");
            assert_eq!(got[1].header(":message-type"), Some("event"));
            assert_eq!(&got[1].payload[..], br#"{"Records":[]}"#);
            assert_eq!(got[2].header(":message-type"), Some("exception"));
            assert_eq!(
                got[2].header(":exception-type"),
                Some("ResourceInUseException")
            );
        }
    }

    #[test]
    fn refuses_corruption() {
        let mut frame = event("SubscribeToShardEvent", b"{}");
        let last = frame.len() - 5;
        frame[last] ^= 1;
        let mut d = Decoder::default();
        d.push(&frame);
        assert!(d.next_message().is_err());
        let mut d = Decoder::default();
        d.push(&[0, 0, 0, 20, 0, 0, 0, 0, 1, 2, 3, 4]);
        assert!(d.next_message().is_err());
    }

    #[test]
    fn skips_headers_of_other_types() {
        // A header of type int (4) between two strings.
        let mut headers = Vec::new();
        headers.extend([2, b'a', b'b', 7, 0, 1, b'x']);
        headers.extend([1, b'n', 4, 0, 0, 0, 5]);
        headers.extend([1, b'c', 7, 0, 2, b'y', b'z']);
        let total = 12 + headers.len() + 4;
        let mut frame = Vec::new();
        frame.extend((total as u32).to_be_bytes());
        frame.extend((headers.len() as u32).to_be_bytes());
        frame.extend(crc32fast::hash(&frame).to_be_bytes());
        frame.extend(&headers);
        frame.extend(crc32fast::hash(&frame).to_be_bytes());
        let mut d = Decoder::default();
        d.push(&frame);
        let m = d.next_message().unwrap().unwrap();
        assert_eq!(m.header("ab"), Some("x"));
        assert_eq!(m.header("c"), Some("yz"));
        assert_eq!(m.header("n"), None);
        assert!(m.payload.is_empty());
    }
}
