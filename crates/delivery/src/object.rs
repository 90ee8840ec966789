//! What goes into an object: the records in the channel's format, one per line, validated
//! (JSON must parse, STRING must be UTF-8; BYTE_ARRAY records are written base64-encoded so
//! line boundaries stay record boundaries), compressed; records that fail validation go to a
//! dead-letter object as JSON lines with the reason. And the object's key, from the template.

use std::io::Write;

use base64::Engine as _;
use shardline_wire::shapes::Record;

/// A record to deliver, with where it came from.
pub struct Item {
    pub shard: u32,
    pub record: Record,
}

/// The objects one batch makes: its records, and the records that failed validation.
pub struct Formatted {
    pub body: Vec<u8>,
    pub delivered: usize,
    pub errors: Vec<u8>,
    pub failed: usize,
}

/// Formats and validates a batch (uncompressed).
pub fn format(format: &str, stream_arn: &str, items: &[Item]) -> Formatted {
    let mut body = Vec::new();
    let mut errors = Vec::new();
    let (mut delivered, mut failed) = (0, 0);
    for item in items {
        let data = &item.record.data.0;
        let problem = match format {
            "JSON" => serde_json::from_slice::<serde::de::IgnoredAny>(data)
                .err()
                .map(|e| ("InvalidJson", e.to_string())),
            "STRING" => std::str::from_utf8(data)
                .err()
                .map(|e| ("InvalidString", e.to_string())),
            _ => None,
        };
        match problem {
            None => {
                delivered += 1;
                if format == "BYTE_ARRAY" {
                    body.extend_from_slice(
                        base64::engine::general_purpose::STANDARD
                            .encode(data)
                            .as_bytes(),
                    );
                } else if format == "JSON" {
                    // One line per record: JSON text may hold newlines only as whitespace.
                    body.extend(
                        data.iter()
                            .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
                    );
                } else {
                    body.extend_from_slice(data);
                }
                body.push(b'\n');
            }
            Some((code, message)) => {
                failed += 1;
                let line = serde_json::json!({
                    "errorCode": code,
                    "errorMessage": message,
                    "streamARN": stream_arn,
                    "shardId": format!("shardId-{:012}", item.shard),
                    "sequenceNumber": item.record.sequence_number.to_string(),
                    "partitionKey": item.record.partition_key.to_string(),
                    "approximateArrivalTimestamp": item.record.approximate_arrival_timestamp.millis,
                    "rawData": base64::engine::general_purpose::STANDARD.encode(data),
                });
                errors.extend_from_slice(line.to_string().as_bytes());
                errors.push(b'\n');
            }
        }
    }
    Formatted {
        body,
        delivered,
        errors,
        failed,
    }
}

/// Compresses an object body as the channel asks.
pub fn compress(compression: &str, body: Vec<u8>) -> std::io::Result<Vec<u8>> {
    match compression {
        "GZIP" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&body)?;
            e.finish()
        }
        "ZSTD" => zstd::stream::encode_all(&body[..], 3),
        _ => Ok(body),
    }
}

/// The `!{extension}` of a format and compression.
pub fn extension(format: &str, compression: &str) -> String {
    let base = match format {
        "JSON" => ".json",
        "STRING" => ".txt",
        _ => ".b64",
    };
    let packed = match compression {
        "GZIP" => ".gz",
        "ZSTD" => ".zst",
        _ => "",
    };
    format!("{base}{packed}")
}

/// What a key template's variables stand for.
pub struct KeyParts<'a> {
    pub channel_name: &'a str,
    pub channel_id: &'a str,
    pub stream_name: &'a str,
    /// UTC time the key's date variables show (the batch's first record's arrival).
    pub time_ms: u64,
    pub extension: &'a str,
    /// Appended to every key, as AWS appends a unique suffix.
    pub suffix: &'a str,
}

/// Expands a key template: `!{channel-name}`, `!{channel-id}`, `!{stream-name}`, `!{yyyy}`,
/// `!{yy}`, `!{MM}`, `!{dd}`, `!{HH}`, `!{mm}`, `!{extension}` and `!{extension:<literal>}`.
/// The unique suffix goes before the extension, so keys keep it at their end.
pub fn expand(template: &str, p: &KeyParts<'_>) -> String {
    let (y, mo, d, h, mi) = civil(p.time_ms);
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    let mut extension_seen = false;
    while let Some(start) = rest.find("!{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let var = &after[..end];
        match var {
            "channel-name" => out.push_str(p.channel_name),
            "channel-id" => out.push_str(p.channel_id),
            "stream-name" => out.push_str(p.stream_name),
            "yyyy" => out.push_str(&format!("{y:04}")),
            "yy" => out.push_str(&format!("{:02}", y % 100)),
            "MM" => out.push_str(&format!("{mo:02}")),
            "dd" => out.push_str(&format!("{d:02}")),
            "HH" => out.push_str(&format!("{h:02}")),
            "mm" => out.push_str(&format!("{mi:02}")),
            "extension" => {
                out.push_str(p.suffix);
                out.push_str(p.extension);
                extension_seen = true;
            }
            v if v.starts_with("extension:") => {
                out.push_str(p.suffix);
                out.push_str(&v["extension:".len()..]);
                extension_seen = true;
            }
            other => {
                out.push_str("!{");
                out.push_str(other);
                out.push('}');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if !extension_seen {
        out.push_str(p.suffix);
    }
    out
}

/// (year, month, day, hour, minute) in UTC of epoch milliseconds.
fn civil(ms: u64) -> (i64, u32, u32, u32, u32) {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (rem / 3600) as u32, ((rem % 3600) / 60) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0));
        // 2026-12-05T01:40:00Z
        assert_eq!(civil(1_796_434_800_000), (2026, 12, 5, 1, 40));
        // 2024-02-29T23:59:00Z
        assert_eq!(civil(1_709_251_140_000), (2024, 2, 29, 23, 59));
    }

    #[test]
    fn default_template() {
        let key = expand(
            shardline_engine::DEFAULT_KEY_TEMPLATE,
            &KeyParts {
                channel_name: "c",
                channel_id: "id-1",
                stream_name: "s",
                time_ms: 1_796_434_800_000,
                extension: ".json.gz",
                suffix: "-0-42",
            },
        );
        assert_eq!(
            key,
            "kinesis-channel/c/id-1/2026/12/05/01/c-id-1-2026-12-05-01-40-0-42.json.gz"
        );
        let literal = expand(
            "x/!{stream-name}/!{yy}!{extension:.log}",
            &KeyParts {
                channel_name: "c",
                channel_id: "i",
                stream_name: "s",
                time_ms: 0,
                extension: ".json",
                suffix: "-1",
            },
        );
        assert_eq!(literal, "x/s/70-1.log");
    }
}
