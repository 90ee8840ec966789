//! Differential: the fast PutRecords JSON reader (what `Codec::decode_put_records` takes first)
//! and serde must agree on every body: the same input shape, or the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardline_wire::shapes::PutRecordsInput;
use shardline_wire::Codec;

fuzz_target!(|body: &[u8]| {
    let fast = Codec::Json.decode_put_records(body);
    let serde = shardline_wire::json::decode::<PutRecordsInput>(body);
    assert_eq!(fast, serde, "the fast reader and serde disagree");
});
