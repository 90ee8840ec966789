//! Sequence numbers: 56-digit decimals with the layout AWS's numbers decode to
//! (47 hex digits, most significant first):
//!
//! ```text
//! "2" | shard create time, epoch s (9 hex) | shard index & 0xf (1) | position in shard (16)
//!     | reserved "00" (2) | record time, epoch s (9) | shard index (8) | "2"
//! ```
//!
//! The position is the record's log offset plus one (0 is the shard's starting number), so
//! numbers strictly increase within a shard, a number leads straight to its record, and a
//! number from another shard is recognised.
//! A closed shard's ending number uses position `0x7fff_ffff_ffff_ffff`.

use ethnum::U256;

/// Position used in a closed shard's `EndingSequenceNumber`.
pub const END_POSITION: u64 = 0x7fff_ffff_ffff_ffff;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceNumber {
    pub shard_create_secs: u64,
    pub shard_index: u32,
    pub position: u64,
    pub record_secs: u64,
}

const SECS_MASK: u64 = 0xf_ffff_ffff; // 9 hex digits

impl SequenceNumber {
    pub fn to_decimal(self) -> String {
        let mut v = U256::from(2u8);
        v = (v << 36) | U256::from(self.shard_create_secs & SECS_MASK);
        v = (v << 4) | U256::from(self.shard_index & 0xf);
        v = (v << 64) | U256::from(self.position);
        v <<= 8; // reserved byte
        v = (v << 36) | U256::from(self.record_secs & SECS_MASK);
        v = (v << 32) | U256::from(self.shard_index);
        v = (v << 4) | U256::from(2u8);
        v.to_string()
    }

    /// Decodes a number this server could have issued; `None` for anything else.
    pub fn parse(decimal: &str) -> Option<SequenceNumber> {
        if decimal.is_empty() || decimal.len() > 78 || !decimal.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let v = U256::from_str_radix(decimal, 10).ok()?;
        if v >> 184 != U256::from(2u8) || v & U256::from(0xfu8) != U256::from(2u8) {
            return None;
        }
        let field = |shift: u32, bits: u32| -> u64 {
            ((v >> shift) & ((U256::ONE << bits) - U256::ONE)).as_u64()
        };
        let shard_index = u32::try_from(field(4, 32)).ok()?;
        let record_secs = field(36, 36);
        let position = field(80, 64);
        let low_nibble = field(144, 4);
        let shard_create_secs = field(148, 36);
        if low_nibble != u64::from(shard_index & 0xf) || position > END_POSITION {
            return None;
        }
        Some(SequenceNumber {
            shard_create_secs,
            shard_index,
            position,
            record_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_has_56_digits() {
        let s = SequenceNumber {
            shard_create_secs: 1_572_297_165,
            shard_index: 102,
            position: 0x34bf1ac,
            record_secs: 1_572_297_170,
        };
        let text = s.to_decimal();
        assert_eq!(text.len(), 56, "{text}");
        assert_eq!(SequenceNumber::parse(&text), Some(s));
    }

    #[test]
    fn decodes_a_real_aws_ending_sequence_number() {
        // A closed shard's EndingSequenceNumber captured from AWS (reference §3).
        let s = SequenceNumber::parse("49576300004002856343289126011049985768053015998086774786")
            .unwrap();
        assert_eq!(s.position, END_POSITION);
        assert_eq!(s.shard_index, 0);
    }

    #[test]
    fn strictly_increasing_with_position() {
        let mk = |position, record_secs| SequenceNumber {
            shard_create_secs: 1_700_000_000,
            shard_index: 3,
            position,
            record_secs,
        };
        let a = U256::from_str_radix(&mk(5, 1_800_000_000).to_decimal(), 10).unwrap();
        let b = U256::from_str_radix(&mk(6, 1_700_000_001).to_decimal(), 10).unwrap();
        assert!(a < b);
    }

    #[test]
    fn rejects_foreign_numbers() {
        assert_eq!(SequenceNumber::parse("0"), None);
        assert_eq!(SequenceNumber::parse("12345"), None);
        assert_eq!(SequenceNumber::parse("abc"), None);
    }
}
