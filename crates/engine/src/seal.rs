//! Opaque, tamper-evident tokens (shard iterators, NextTokens): payload plus a truncated
//! HMAC-SHA256, in standard base64.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const MAC_LEN: usize = 16;

pub struct Sealer {
    key: [u8; 32],
}

impl Sealer {
    pub fn new(key: [u8; 32]) -> Self {
        Sealer { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    pub fn seal(&self, payload: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(payload);
        let tag = mac.finalize().into_bytes();
        let mut out = Vec::with_capacity(payload.len() + MAC_LEN);
        out.extend_from_slice(payload);
        out.extend_from_slice(&tag[..MAC_LEN]);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// The payload of a token this sealer made; `None` for anything else.
    pub fn open(&self, token: &str) -> Option<Vec<u8>> {
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()?;
        if raw.len() < MAC_LEN {
            return None;
        }
        let tag = raw.split_off(raw.len() - MAC_LEN);
        let mut mac = self.mac();
        mac.update(&raw);
        mac.verify_truncated_left(&tag).ok()?;
        Some(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let s = Sealer::new([7; 32]);
        let t = s.seal(b"hello");
        assert_eq!(s.open(&t).unwrap(), b"hello");
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&t)
            .unwrap();
        bytes[0] ^= 1;
        let tampered = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(s.open(&tampered), None);
        assert_eq!(Sealer::new([8; 32]).open(&t), None);
        assert_eq!(s.open("!!!"), None);
    }
}
