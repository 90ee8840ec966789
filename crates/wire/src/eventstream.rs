//! `application/vnd.amazon.eventstream` message framing (SubscribeToShard responses):
//!
//! ```text
//! [u32 total length][u32 headers length][u32 CRC32 of the first 8 bytes]
//! [headers][payload][u32 CRC32 of everything before it]
//! header = [u8 name length][name][u8 type = 7 (string)][u16 value length][value]
//! ```
//! All integers big-endian; CRC32 is IEEE (zlib). Kinesis only needs string headers.

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
}
