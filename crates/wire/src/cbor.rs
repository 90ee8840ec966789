//! The `application/x-amz-cbor-1.1` codec: "AWS CBOR", which the Java SDKs v1 and v2 (and so
//! the KCL) send to Kinesis by default. It is not Smithy's rpcv2-cbor: routing stays on
//! `X-Amz-Target`, and the body is one CBOR map whose text keys are the JSON member names.
//!
//! The shapes are the JSON ones; only scalars differ, and [`crate::Blob`] and
//! [`crate::Timestamp`] carry that difference (CBOR's serde format is not human-readable):
//! blobs are byte strings (major type 2), timestamps epoch *milliseconds*, written as tag 1 +
//! integer. Requests may use any integer or float width, and definite or indefinite-length
//! maps, arrays, text and byte strings, as Jackson's generator does.

use ciborium::value::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::blob::BASE64_ERROR_MARK;
use crate::json::java_type_message;
use crate::{ApiError, ErrorCode};

pub const CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";

/// Parses a request body into an input shape.
///
/// # Errors
/// `SerializationException` for an empty or malformed body, bytes after the body's one item,
/// or a member of the wrong type (a text string for a blob, say).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Anything but a map (major type 5) is not a request at all: AWS says no more. An
    // indefinite-length array gets serde's positional reading otherwise.
    match body.first() {
        None => return Err(ApiError::bare(ErrorCode::Serialization)),
        Some(b) if b >> 5 == 4 => {
            return Err(ApiError::new(
                ErrorCode::Serialization,
                "Start of list found where not expected",
            ))
        }
        Some(b) if b >> 5 != 5 => return Err(ApiError::bare(ErrorCode::Serialization)),
        _ => {}
    }
    // ciborium's streaming decoder takes struct member names only as definite-length text of
    // at most 4 KiB. Jackson never writes other names, but CBOR allows chunked ones, and the
    // generic value model reads any; so a body the fast path refused gets that second look.
    decode_streaming(body).or_else(|err| decode_via_value(body).ok_or(err))
}

/// The fast path: straight from the bytes into the shape, blobs handed over without a copy.
fn decode_streaming<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut rest = body;
    match ciborium::from_reader::<T, _>(&mut rest) {
        Ok(value) if rest.is_empty() => Ok(value),
        // Bytes after the body's one item.
        Ok(_) => Err(ApiError::bare(ErrorCode::Serialization)),
        Err(err) => Err(serialization_error(err)),
    }
}

fn decode_via_value<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let mut rest = body;
    let value: Value = ciborium::from_reader(&mut rest).ok()?;
    if !rest.is_empty() {
        return None;
    }
    value.deserialized().ok()
}

fn serialization_error(err: ciborium::de::Error<std::io::Error>) -> ApiError {
    let text = match err {
        ciborium::de::Error::Semantic(_, text) => text,
        // Truncated input, a malformed item, or nesting deeper than ciborium's limit (256):
        // unparsable, which AWS answers with a bare SerializationException.
        _ => return ApiError::bare(ErrorCode::Serialization),
    };
    if text.starts_with("invalid type: break") {
        // A stray "break" (0xFF) outside an indefinite-length item is a syntax error too.
        return ApiError::bare(ErrorCode::Serialization);
    }
    let message = match text.find(BASE64_ERROR_MARK) {
        Some(i) => text[i + BASE64_ERROR_MARK.len()..].to_string(),
        None => java_type_message(&text).unwrap_or(text),
    };
    ApiError::new(ErrorCode::Serialization, message)
}

/// Encodes an output shape (definite-length containers; Jackson reads both kinds).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    match ciborium::into_writer(value, &mut out) {
        Ok(()) => out,
        // Writing plain shapes to a Vec cannot fail; fall back to an empty map regardless.
        Err(_) => vec![0xA0],
    }
}

/// Encodes an error body: the CBOR map `{"__type": ..., "message": ...}`.
pub fn encode_error(err: &ApiError) -> Vec<u8> {
    let mut body = vec![(
        Value::Text("__type".into()),
        Value::Text(err.code.type_name().into()),
    )];
    if let Some(message) = &err.message {
        // AWS's SerializationException uses a capitalised key; every other error lower case.
        let key = if err.code == ErrorCode::Serialization {
            "Message"
        } else {
            "message"
        };
        body.push((Value::Text(key.into()), Value::Text(message.clone())));
    }
    encode(&Value::Map(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::shapes::{
        GetRecordsInput, GetRecordsOutput, GetShardIteratorInput, ListShardsInput, PutRecordInput,
        PutRecordsInput, Record,
    };
    use crate::{Blob, SequenceText, Timestamp};
    use base64::Engine as _;
    use bytes::Bytes;
    use proptest::prelude::*;

    /// Writes CBOR items as Jackson's `CBORGenerator` does inside the Java SDK: maps and
    /// arrays open with indefinite length (0xBF/0x9F ... 0xFF), strings are definite, an int
    /// takes its smallest head, and a long outside the i32 range takes the full 8 bytes.
    #[derive(Default)]
    struct Cbor(Vec<u8>);

    impl Cbor {
        fn head(&mut self, major: u8, n: u64) -> &mut Self {
            let m = major << 5;
            match n {
                0..=23 => self.0.push(m | n as u8),
                24..=0xFF => self.0.extend([m | 24, n as u8]),
                0x100..=0xFFFF => {
                    self.0.push(m | 25);
                    self.0.extend((n as u16).to_be_bytes());
                }
                0x1_0000..=0xFFFF_FFFF => {
                    self.0.push(m | 26);
                    self.0.extend((n as u32).to_be_bytes());
                }
                _ => {
                    self.0.push(m | 27);
                    self.0.extend(n.to_be_bytes());
                }
            }
            self
        }
        fn raw(&mut self, bytes: &[u8]) -> &mut Self {
            self.0.extend_from_slice(bytes);
            self
        }
        fn map(&mut self) -> &mut Self {
            self.raw(&[0xBF])
        }
        fn array(&mut self) -> &mut Self {
            self.raw(&[0x9F])
        }
        fn end(&mut self) -> &mut Self {
            self.raw(&[0xFF])
        }
        fn text(&mut self, s: &str) -> &mut Self {
            self.head(3, s.len() as u64).raw(s.as_bytes())
        }
        fn bytes(&mut self, b: &[u8]) -> &mut Self {
            self.head(2, b.len() as u64).raw(b)
        }
        /// Jackson `writeNumber(int)`.
        fn int(&mut self, v: i64) -> &mut Self {
            if v < 0 {
                self.head(1, !(v as u64))
            } else {
                self.head(0, v as u64)
            }
        }
        /// Jackson `writeNumber(long)`.
        fn long(&mut self, v: i64) -> &mut Self {
            if i32::try_from(v).is_ok() {
                return self.int(v);
            }
            let (major, n) = if v < 0 {
                (1, !(v as u64))
            } else {
                (0, v as u64)
            };
            self.0.push(major << 5 | 27);
            self.raw(&n.to_be_bytes())
        }
        /// `SdkCborGenerator.writeValue(Instant)`: tag 1, then the millis as a long.
        fn timestamp(&mut self, millis: i64) -> &mut Self {
            self.raw(&[0xC1]).long(millis)
        }
        fn done(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.0)
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn same<A: std::fmt::Debug, B: std::fmt::Debug>(a: &A, b: &B) {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn put_record_as_the_java_sdk_sends_it() {
        // {_ "StreamName": "my-stream", "Data": h'68656c6c6f', "PartitionKey": "pk-1"}
        let wire = hex("bf 6a 53747265616d4e616d65 69 6d792d73747265616d
                64 44617461 45 68656c6c6f
                6c 506172746974696f6e4b6579 64 706b2d31 ff");
        let built = Cbor::default()
            .map()
            .text("StreamName")
            .text("my-stream")
            .text("Data")
            .bytes(b"hello")
            .text("PartitionKey")
            .text("pk-1")
            .end()
            .done();
        assert_eq!(built, wire);
        let input: PutRecordInput = decode(&wire).unwrap();
        assert_eq!(input.stream_name.as_deref(), Some("my-stream"));
        assert_eq!(input.data, Some(Blob(Bytes::from_static(b"hello"))));
        assert_eq!(input.partition_key.as_deref(), Some("pk-1"));
        let from_json: PutRecordInput =
            json::decode(br#"{"StreamName":"my-stream","Data":"aGVsbG8=","PartitionKey":"pk-1"}"#)
                .unwrap();
        same(&input, &from_json);
    }

    #[test]
    fn put_records_with_an_indefinite_array_of_entries() {
        let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut c = Cbor::default();
        c.map().text("StreamName").text("s").text("Records").array();
        c.map()
            .text("Data")
            .bytes(b"\x00\x01\xff")
            .text("PartitionKey")
            .text("a")
            .end();
        c.map()
            .text("Data")
            .bytes(b"")
            .text("ExplicitHashKey")
            .text("340282366920938463463374607431768211455")
            .text("PartitionKey")
            .text("b")
            .end();
        // Over ciborium's 4 KiB scratch buffer, in a 2-byte-length head (0x59).
        c.map()
            .text("Data")
            .bytes(&big)
            .text("PartitionKey")
            .text("c")
            .end();
        // An indefinite-length (chunked) byte string.
        c.map()
            .text("Data")
            .raw(&[0x5F])
            .bytes(b"hel")
            .bytes(b"")
            .bytes(b"lo")
            .end()
            .text("PartitionKey")
            .text("d")
            .end();
        let wire = c.end().end().done();
        assert_eq!(wire[0], 0xBF);
        let input: PutRecordsInput = decode(&wire).unwrap();
        // Long and chunked blobs take the fast path, not the value-model fallback.
        same(&input, &decode_streaming::<PutRecordsInput>(&wire).unwrap());
        let records = input.records.as_ref().unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!(
            records[0].data.as_ref().unwrap().0.as_ref(),
            b"\x00\x01\xff"
        );
        assert_eq!(records[2].data.as_ref().unwrap().0.as_ref(), &big[..]);
        assert_eq!(records[3].data.as_ref().unwrap().0.as_ref(), b"hello");

        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let text = format!(
            r#"{{"StreamName":"s","Records":[
                {{"Data":"{}","PartitionKey":"a"}},
                {{"Data":"","ExplicitHashKey":"340282366920938463463374607431768211455","PartitionKey":"b"}},
                {{"Data":"{}","PartitionKey":"c"}},
                {{"Data":"aGVsbG8=","PartitionKey":"d"}}]}}"#,
            b64(b"\x00\x01\xff"),
            b64(&big)
        );
        let from_json: PutRecordsInput = json::decode(text.as_bytes()).unwrap();
        same(&input, &from_json);
    }

    #[test]
    fn get_shard_iterator_at_timestamp_with_tag_1_millis() {
        let wire = Cbor::default()
            .map()
            .text("StreamName")
            .text("s")
            .text("ShardId")
            .text("shardId-000000000000")
            .text("ShardIteratorType")
            .text("AT_TIMESTAMP")
            .text("Timestamp")
            .timestamp(1_459_799_926_480)
            .end()
            .done();
        // Tag 1, then a 64-bit unsigned head: what Jackson writes for a long.
        let at = wire.len() - 11;
        assert_eq!(wire[at..at + 2], [0xC1, 0x1B]);
        let input: GetShardIteratorInput = decode(&wire).unwrap();
        assert_eq!(
            input.timestamp,
            Some(Timestamp::from_millis(1_459_799_926_480))
        );
        let from_json: GetShardIteratorInput = json::decode(
            br#"{"StreamName":"s","ShardId":"shardId-000000000000",
                 "ShardIteratorType":"AT_TIMESTAMP","Timestamp":1459799926.480}"#,
        )
        .unwrap();
        same(&input, &from_json);
    }

    #[test]
    fn list_shards_with_a_shard_filter_timestamp() {
        let wire = Cbor::default()
            .map()
            .text("StreamName")
            .text("s")
            .text("MaxResults")
            .int(1000)
            .text("StreamCreationTimestamp")
            .timestamp(1_572_297_168_000)
            .text("ShardFilter")
            .map()
            .text("Type")
            .text("FROM_TIMESTAMP")
            .text("Timestamp")
            .timestamp(1_572_297_168_123)
            .end()
            .end()
            .done();
        let input: ListShardsInput = decode(&wire).unwrap();
        let filter = input.shard_filter.as_ref().unwrap();
        assert_eq!(
            filter.timestamp,
            Some(Timestamp::from_millis(1_572_297_168_123))
        );
        assert_eq!(input.max_results, Some(1000));
        let from_json: ListShardsInput = json::decode(
            br#"{"StreamName":"s","MaxResults":1000,"StreamCreationTimestamp":1572297168,
                 "ShardFilter":{"Type":"FROM_TIMESTAMP","Timestamp":1572297168.123}}"#,
        )
        .unwrap();
        same(&input, &from_json);
    }

    fn timestamp_of(item: &[u8]) -> Result<Option<Timestamp>, ApiError> {
        let mut c = Cbor::default();
        c.map().text("Timestamp").raw(item).end();
        let wire = c.done();
        let fast = decode_streaming::<GetShardIteratorInput>(&wire).map(|i| i.timestamp);
        assert_eq!(
            decode::<GetShardIteratorInput>(&wire).map(|i| i.timestamp),
            fast
        );
        fast
    }

    #[test]
    fn timestamps_are_millis_in_every_number_form() {
        let ms = |m| Ok(Some(Timestamp::from_millis(m)));
        // Tagged and plain integers, every head width, and negative.
        assert_eq!(
            timestamp_of(&hex("c1 1b 00000153e2db25d0")),
            ms(1_459_799_926_224)
        );
        assert_eq!(
            timestamp_of(&hex("1b 00000153e2db25d0")),
            ms(1_459_799_926_224)
        );
        assert_eq!(timestamp_of(&hex("c1 17")), ms(23));
        assert_eq!(timestamp_of(&hex("c1 18 64")), ms(100));
        assert_eq!(timestamp_of(&hex("19 03e8")), ms(1000));
        assert_eq!(timestamp_of(&hex("c1 1a 000186a0")), ms(100_000));
        assert_eq!(timestamp_of(&hex("c1 29")), ms(-10));
        // Half, single and double floats (Jackson writes a Java double as float64).
        assert_eq!(timestamp_of(&hex("f9 6400")), ms(1024));
        assert_eq!(timestamp_of(&hex("c1 fa 4b800000")), ms(16_777_216));
        let double = 1_459_799_926_480f64.to_bits().to_be_bytes();
        assert_eq!(
            timestamp_of(&[&[0xFB][..], &double].concat()),
            ms(1_459_799_926_480)
        );
        // Null is an absent member.
        assert_eq!(timestamp_of(&hex("f6")), Ok(None));
        // Other tags, strings and absurd values are not timestamps.
        for bad in [
            "c0 1b 00000153e2db25d0",
            "c1 63 313233",
            "fb 7ff0000000000000",
            "1b ffffffffffffffff",
        ] {
            let err = timestamp_of(&hex(bad)).unwrap_err();
            assert_eq!(err.code, ErrorCode::Serialization, "{bad}");
        }
        let err = timestamp_of(&hex("63 313233")).unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("class java.lang.String can not be converted to milliseconds since epoch")
        );
    }

    #[test]
    fn integers_of_every_width() {
        for (item, limit) in [
            ("0a", 10),
            ("18 64", 100),
            ("19 2710", 10_000),
            ("1a 000f4240", 1_000_000),
            ("1b 0000000000000005", 5),
            ("20", -1),
            ("3b 0000000000000009", -10),
        ] {
            let mut c = Cbor::default();
            c.map().text("Limit").raw(&hex(item)).end();
            let input: GetRecordsInput = decode(&c.done()).unwrap();
            assert_eq!(input.limit, Some(limit), "{item}");
        }
        let mut c = Cbor::default();
        c.map().text("Limit").raw(&hex("1b ffffffffffffffff")).end();
        let err = decode::<GetRecordsInput>(&c.done()).unwrap_err();
        assert_eq!(err.code, ErrorCode::Serialization);
    }

    #[test]
    fn indefinite_and_long_strings_and_definite_containers() {
        let long = "x".repeat(6000);
        // Definite-length map, chunked value, long value.
        let mut c = Cbor::default();
        c.head(5, 3)
            .text("ShardIterator")
            .raw(&[0x7F])
            .text("AAAA")
            .text("")
            .text("é-BBBB")
            .end()
            .text("StreamARN")
            .text(&long)
            .text("Limit")
            .int(7);
        let wire = c.done();
        same(
            &decode::<GetRecordsInput>(&wire),
            &decode_streaming::<GetRecordsInput>(&wire),
        );
        let input: GetRecordsInput = decode(&wire).unwrap();
        assert_eq!(input.shard_iterator.as_deref(), Some("AAAAé-BBBB"));
        assert_eq!(input.stream_arn.as_deref(), Some(long.as_str()));
        assert_eq!(input.limit, Some(7));

        // A chunked member name (legal CBOR, though Jackson never writes one).
        let mut c = Cbor::default();
        c.map()
            .raw(&[0x7F])
            .text("Shard")
            .text("Iterator")
            .end()
            .text("it")
            .end();
        let wire = c.done();
        assert!(decode_streaming::<GetRecordsInput>(&wire).is_err());
        let input: GetRecordsInput = decode(&wire).unwrap();
        assert_eq!(input.shard_iterator.as_deref(), Some("it"));

        // Definite-length array of definite maps.
        let mut c = Cbor::default();
        c.map().text("Records").head(4, 2);
        c.head(5, 2)
            .text("Data")
            .bytes(b"1")
            .text("PartitionKey")
            .text("p");
        c.head(5, 1).text("Data").bytes(b"2");
        let input: PutRecordsInput = decode(&c.end().done()).unwrap();
        assert_eq!(input.records.unwrap().len(), 2);
    }

    #[test]
    fn unknown_members_and_nulls_are_ignored() {
        let mut c = Cbor::default();
        c.map()
            .text("StreamId")
            .text("ignored")
            .text("Unknown")
            .map()
            .text("a")
            .array()
            .raw(&hex("c1 1b 00000153e2db25d0 f97e00 f5 f7 f6 5f 41 00 ff"))
            .bytes(&[7; 5000])
            .end()
            .text("b")
            .raw(&hex("c2 41 01 d8 20 63 616263 3a 7fffffff"))
            .end()
            .text("StreamName")
            .text("s")
            .text("PartitionKey")
            .raw(&[0xF6])
            .text("ExplicitHashKey")
            .raw(&[0xF7])
            .text("Data")
            .bytes(b"d")
            .end();
        let input: PutRecordInput = decode_streaming(&c.done()).unwrap();
        assert_eq!(input.stream_name.as_deref(), Some("s"));
        assert_eq!(input.partition_key, None);
        assert_eq!(input.explicit_hash_key, None);
        assert_eq!(input.data, Some(Blob(Bytes::from_static(b"d"))));
    }

    #[test]
    fn get_records_output_has_byte_strings_and_tag_1_millis() {
        let output = GetRecordsOutput {
            records: vec![
                Record {
                    sequence_number: SequenceText::from(
                        "49590338271490256608559692538361571095921575989136588898",
                    )
                    .unwrap(),
                    approximate_arrival_timestamp: Timestamp::from_millis(1_459_799_926_480),
                    data: Blob(Bytes::from_static(b"\x00hello\xff")),
                    partition_key: "pk".into(),
                    encryption_type: None,
                },
                Record {
                    sequence_number: SequenceText::from("2").unwrap(),
                    approximate_arrival_timestamp: Timestamp::from_millis(1_000),
                    data: Blob(Bytes::new()),
                    partition_key: "q".into(),
                    encryption_type: None,
                },
            ],
            next_shard_iterator: Some("AAAA".into()),
            millis_behind_latest: 0,
            child_shards: None,
        };
        let body = encode(&output);
        // Tag 1 + a 64-bit head for 1459799926480 ms, exactly as SdkCborGenerator writes it.
        let mut stamp = vec![0xC1, 0x1B];
        stamp.extend(1_459_799_926_480u64.to_be_bytes());
        assert!(body.windows(stamp.len()).any(|w| w == stamp));

        let value: Value = ciborium::from_reader(&body[..]).unwrap();
        let map = value.as_map().unwrap();
        let get = |m: &[(Value, Value)], k: &str| {
            m.iter()
                .find(|(key, _)| key.as_text() == Some(k))
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            get(map, "NextShardIterator"),
            Some(Value::Text("AAAA".into()))
        );
        assert_eq!(
            get(map, "MillisBehindLatest"),
            Some(Value::Integer(0.into()))
        );
        assert_eq!(get(map, "ChildShards"), None);
        let records = get(map, "Records").unwrap();
        let records = records.as_array().unwrap();
        let first = records[0].as_map().unwrap();
        assert_eq!(
            get(first, "Data"),
            Some(Value::Bytes(b"\x00hello\xff".to_vec()))
        );
        assert_eq!(
            get(first, "ApproximateArrivalTimestamp"),
            Some(Value::Tag(
                1,
                Box::new(Value::Integer(1_459_799_926_480i64.into()))
            ))
        );
        let second = records[1].as_map().unwrap();
        assert_eq!(get(second, "Data"), Some(Value::Bytes(vec![])));
        assert_eq!(
            get(second, "ApproximateArrivalTimestamp"),
            Some(Value::Tag(1, Box::new(Value::Integer(1000.into()))))
        );
        assert_eq!(get(second, "SequenceNumber"), Some(Value::Text("2".into())));
    }

    #[test]
    fn empty_output_is_an_empty_map() {
        assert_eq!(encode(&crate::shapes::Empty {}), [0xA0]);
    }

    #[test]
    fn error_bodies_follow_the_aws_shape() {
        let body = encode_error(&ApiError::resource_not_found(
            "Stream x under account 1 not found.",
        ));
        let value: Value = ciborium::from_reader(&body[..]).unwrap();
        assert_eq!(
            value,
            Value::Map(vec![
                ("__type".into(), "ResourceNotFoundException".into()),
                (
                    "message".into(),
                    "Stream x under account 1 not found.".into()
                ),
            ])
        );
        let body = encode_error(&ApiError::new(ErrorCode::Serialization, "bad"));
        let value: Value = ciborium::from_reader(&body[..]).unwrap();
        assert_eq!(
            value,
            Value::Map(vec![
                ("__type".into(), "SerializationException".into()),
                ("Message".into(), "bad".into()),
            ])
        );
        let body = encode_error(&ApiError::bare(ErrorCode::Serialization));
        assert_eq!(
            body,
            hex("a1 66 5f5f74797065 76 53657269616c697a6174696f6e457863657074696f6e")
        );
    }

    #[test]
    fn malformed_bodies_are_bare_serialization_errors() {
        let deep = [vec![0xBF, 0x61, b'x'], vec![0x81; 10_000], vec![0x00]].concat();
        for body in [
            &b""[..],
            b"\xbf",                      // map never closed
            b"\xbf\x64Data",              // key without a value
            b"\xbf\x64Data\x45he\xff",    // byte string cut short
            b"\xff",                      // break outside anything
            b"\xa1\x64Data\xff",          // break where a value belongs
            b"\x1c",                      // reserved additional info
            b"\xa0\x00",                  // a second item after the body
            b"\xbf\x62\xc3\x28\x61a\xff", // key not UTF-8
            &deep,                        // nesting past the recursion limit
        ] {
            let err = decode::<PutRecordInput>(body).unwrap_err();
            assert_eq!(err, ApiError::bare(ErrorCode::Serialization), "{body:x?}");
        }
    }

    #[test]
    fn members_of_the_wrong_type_are_serialization_errors_with_aws_texts() {
        let check = |body: Vec<u8>, message: &str| {
            let err = decode::<PutRecordsInput>(&body).unwrap_err();
            assert_eq!(err.code, ErrorCode::Serialization);
            assert_eq!(err.message.as_deref(), Some(message));
        };
        let mut c = Cbor::default();
        c.map().text("StreamName").int(5).end();
        check(
            c.done(),
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String",
        );
        c.map().text("Records").map().end().end();
        check(
            c.done(),
            "Start of structure or map found where not expected.",
        );
        c.map().text("Records").text("x").end();
        check(c.done(), "Expected list or null");
        c.map().text("Records").array().text("x").end().end();
        check(c.done(), "Expected null");
        // Blobs are byte strings: a (base64) text string is refused, as Jackson refuses it.
        c.map()
            .text("Records")
            .array()
            .map()
            .text("Data")
            .text("aGVsbG8=")
            .end()
            .end()
            .end();
        check(
            c.done(),
            "class java.lang.String can not be converted to a Blob",
        );
        // A top-level array, or JSON (a text string head, 0x7B, to a CBOR reader), is not a
        // structure.
        for body in [&hex("9f ff")[..], b"{\"StreamName\":\"s\"}"] {
            let err = decode::<PutRecordsInput>(body).unwrap_err();
            assert_eq!(err.code, ErrorCode::Serialization);
        }
    }

    // ------------------------------------------------------------ JSON and CBOR agree

    /// Layout choices drawn from random bits: definite or indefinite containers, chunked
    /// strings, timestamp forms, extra unknown members.
    struct Bits(u64);

    impl Bits {
        fn next(&mut self) -> bool {
            self.0 = self.0.rotate_left(1) ^ 0x9E37_79B9_7F4A_7C15;
            self.0 & 1 == 1
        }
    }

    /// A map whose length is written up front or left open, as `bits` choose.
    fn cbor_map(c: &mut Cbor, bits: &mut Bits, members: &[(&str, Vec<u8>)]) {
        let definite = bits.next();
        if definite {
            c.head(5, members.len() as u64);
        } else {
            c.map();
        }
        for (key, item) in members {
            c.text(key).raw(item);
        }
        if !definite {
            c.end();
        }
    }

    fn cbor_text(bits: &mut Bits, s: &str) -> Vec<u8> {
        let mut c = Cbor::default();
        if bits.next() && !s.is_empty() {
            let mut cut = s.len() / 2;
            while !s.is_char_boundary(cut) {
                cut += 1;
            }
            c.raw(&[0x7F]).text(&s[..cut]).text(&s[cut..]).end();
        } else {
            c.text(s);
        }
        c.done()
    }

    fn cbor_bytes(bits: &mut Bits, b: &[u8]) -> Vec<u8> {
        let mut c = Cbor::default();
        if bits.next() {
            let cut = b.len() / 3;
            c.raw(&[0x5F]).bytes(&b[..cut]).bytes(&b[cut..]).end();
        } else {
            c.bytes(b);
        }
        c.done()
    }

    fn cbor_timestamp(bits: &mut Bits, millis: i64) -> Vec<u8> {
        let mut c = Cbor::default();
        match (bits.next(), bits.next()) {
            (true, true) => c.timestamp(millis),
            (true, false) => c.raw(&[0xC1]).int(millis),
            (false, true) => c.long(millis),
            (false, false) => c.raw(&[0xFB]).raw(&(millis as f64).to_bits().to_be_bytes()),
        };
        c.done()
    }

    fn json_str(s: &str) -> String {
        serde_json::to_string(s).unwrap()
    }

    fn json_object(members: &[(&str, String)]) -> String {
        let inner: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{}:{v}", json_str(k)))
            .collect();
        format!("{{{}}}", inner.join(","))
    }

    fn unknown_member(bits: &mut Bits) -> Option<(&'static str, Vec<u8>)> {
        bits.next().then(|| {
            (
                "StreamId",
                hex("bf 61 61 9f c1 1b 00000153e2db25d0 f6 ff ff"),
            )
        })
    }

    type Entry = (Vec<u8>, String, Option<String>);

    proptest! {
        #[test]
        fn put_records_decode_alike_from_json_and_cbor(
            stream in proptest::option::of("[a-zA-Z0-9_.-]{1,128}"),
            records in proptest::collection::vec(
                (
                    proptest::collection::vec(any::<u8>(), 0..600),
                    "\\PC{1,40}",
                    proptest::option::of("[0-9]{1,39}"),
                ),
                0..8,
            ),
            layout in any::<u64>(),
        ) {
            let records: Vec<Entry> = records;
            let mut bits = Bits(layout);
            let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);

            let mut json_members = Vec::new();
            let mut cbor_members = Vec::new();
            if let Some(s) = &stream {
                json_members.push(("StreamName", json_str(s)));
                cbor_members.push(("StreamName", cbor_text(&mut bits, s)));
            }
            let mut json_entries = Vec::new();
            let mut cbor_entries = Cbor::default();
            let definite = bits.next();
            if definite {
                cbor_entries.head(4, records.len() as u64);
            } else {
                cbor_entries.array();
            }
            for (data, pk, ehk) in &records {
                let mut j = vec![("Data", json_str(&b64(data))), ("PartitionKey", json_str(pk))];
                let mut m = vec![
                    ("Data", cbor_bytes(&mut bits, data)),
                    ("PartitionKey", cbor_text(&mut bits, pk)),
                ];
                if let Some(h) = ehk {
                    j.push(("ExplicitHashKey", json_str(h)));
                    m.push(("ExplicitHashKey", cbor_text(&mut bits, h)));
                }
                json_entries.push(json_object(&j));
                cbor_map(&mut cbor_entries, &mut bits, &m);
            }
            if !definite {
                cbor_entries.end();
            }
            json_members.push(("Records", format!("[{}]", json_entries.join(","))));
            cbor_members.push(("Records", cbor_entries.done()));
            cbor_members.extend(unknown_member(&mut bits));

            let mut c = Cbor::default();
            cbor_map(&mut c, &mut bits, &cbor_members);
            // Jackson-like layouts all take the fast path.
            let from_cbor: PutRecordsInput = decode_streaming(&c.done()).unwrap();
            let from_json: PutRecordsInput =
                json::decode(json_object(&json_members).as_bytes()).unwrap();
            prop_assert_eq!(format!("{from_cbor:?}"), format!("{from_json:?}"));
            let decoded = from_cbor.records.unwrap();
            prop_assert_eq!(decoded.len(), records.len());
            for (got, (data, _, _)) in decoded.iter().zip(&records) {
                prop_assert_eq!(got.data.as_ref().unwrap().0.as_ref(), &data[..]);
            }
        }

        #[test]
        fn get_shard_iterator_decodes_alike_from_json_and_cbor(
            stream in proptest::option::of("[a-zA-Z0-9_.-]{1,128}"),
            shard in proptest::option::of("shardId-[0-9]{12}"),
            kind in proptest::option::of(proptest::sample::select(vec![
                "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST",
                "AT_TIMESTAMP",
            ])),
            sequence in proptest::option::of("[0-9]{1,128}"),
            millis in proptest::option::of(0i64..4_102_444_800_000),
            layout in any::<u64>(),
        ) {
            let mut bits = Bits(layout);
            let mut json_members = Vec::new();
            let mut cbor_members = Vec::new();
            cbor_members.extend(unknown_member(&mut bits));
            for (key, value) in [
                ("StreamName", &stream),
                ("ShardId", &shard),
                ("ShardIteratorType", &kind.map(str::to_string)),
                ("StartingSequenceNumber", &sequence),
            ] {
                if let Some(v) = value {
                    json_members.push((key, json_str(v)));
                    cbor_members.push((key, cbor_text(&mut bits, v)));
                }
            }
            if let Some(ms) = millis {
                json_members.push(("Timestamp", format!("{}.{:03}", ms / 1000, ms % 1000)));
                cbor_members.push(("Timestamp", cbor_timestamp(&mut bits, ms)));
            }
            let mut c = Cbor::default();
            cbor_map(&mut c, &mut bits, &cbor_members);
            let from_cbor: GetShardIteratorInput = decode_streaming(&c.done()).unwrap();
            let from_json: GetShardIteratorInput =
                json::decode(json_object(&json_members).as_bytes()).unwrap();
            prop_assert_eq!(format!("{from_cbor:?}"), format!("{from_json:?}"));
            prop_assert_eq!(from_cbor.timestamp.map(|t| t.millis), millis);
        }
    }
}
