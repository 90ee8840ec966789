//! The CBOR codec on any bytes, as several input shapes: an error or a value, never a panic,
//! a hang or an unbounded allocation; and whether a body is an object is decided the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardline_wire::shapes::{
    CreateStreamInput, GetRecordsInput, ListShardsInput, PutRecordsInput, SubscribeToShardInput,
};
use shardline_wire::Codec;

fuzz_target!(|body: &[u8]| {
    let _ = Codec::Cbor.decode::<PutRecordsInput>(body);
    let _ = Codec::Cbor.decode_put_records(body);
    let _ = Codec::Cbor.decode::<CreateStreamInput>(body);
    let _ = Codec::Cbor.decode::<ListShardsInput>(body);
    let _ = Codec::Cbor.decode::<GetRecordsInput>(body);
    let _ = Codec::Cbor.decode::<SubscribeToShardInput>(body);
    let object = Codec::Cbor.is_object(body);
    // A body that decodes as an input structure is an object.
    if Codec::Cbor.decode::<GetRecordsInput>(body).is_ok() {
        assert!(object, "a decodable body is not an object");
    }
});
