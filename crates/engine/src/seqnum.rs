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
use shardline_wire::SequenceText;

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
        if low_nibble != u64::from(shard_index & 0xf)
            || position > END_POSITION
            || shard_index > i32::MAX as u32
        {
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

/// What a sequence number a client sent is, as AWS reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classified {
    /// Not a sequence number of any layout AWS knows.
    Invalid,
    /// Below 2^124: AWS reads it as its oldest layout, naming only a shard index.
    Small { shard_index: i32 },
    /// AWS's layout (version 1 or 2) but not a number this server issued.
    Foreign { shard_index: i32 },
    /// A number this server could have issued.
    Ours(SequenceNumber),
}

impl SequenceNumber {
    /// Reads any decimal a client may send as AWS reads it: below 2^124 the old small layout;
    /// between 2^185 and 1.5·2^185 the 47-hex-digit layout, version 1 or 2 by its last digit
    /// (version 2 refused with its position's top bit set or a shard create time from year
    /// 2477 on); anything else invalid. The shard index is the signed 32-bit field before the
    /// version digit.
    pub fn classify(decimal: &str) -> Classified {
        if decimal.is_empty() || decimal.len() > 78 || !decimal.bytes().all(|b| b.is_ascii_digit())
        {
            return Classified::Invalid;
        }
        let Ok(v) = U256::from_str_radix(decimal, 10) else {
            return Classified::Invalid;
        };
        let low32 = |v: U256| -> i32 { (v & U256::from(u32::MAX)).as_u32() as i32 };
        if v < U256::ONE << 124 {
            return Classified::Small {
                shard_index: low32(v),
            };
        }
        let lowest = U256::ONE << 185;
        if v < lowest || v >= lowest + (lowest >> 1) {
            return Classified::Invalid;
        }
        let version = (v & U256::from(0xfu8)).as_u8();
        let shard_index = low32(v >> 4u32);
        let position: u64 = ((v >> 80u32) & U256::from(u64::MAX)).as_u64();
        let create_secs: u64 = ((v >> 148u32) & U256::from(SECS_MASK)).as_u64();
        match version {
            1 => Classified::Foreign { shard_index },
            2 if position >> 63 == 0 && create_secs < 16_025_175_000 => {
                match SequenceNumber::parse(decimal) {
                    Some(ours) => Classified::Ours(ours),
                    None => Classified::Foreign { shard_index },
                }
            }
            _ => Classified::Invalid,
        }
    }
}

/// Formats the numbers of a run of records cheaply. A 256-bit decimal conversion costs a few
/// hundred nanoseconds; the number right after the last one formatted (next position, same
/// record second — every record of one append) is the previous one plus 2^80, added in
/// base 10^14 limbs, of which only the changed ones are rewritten as digits.
#[derive(Default)]
pub struct Formatter {
    last: Option<Run>,
}

/// Every sequence number has 56 digits (its top bits are fixed: `2 << 184`).
const DIGITS: usize = 56;
const LIMB_DIGITS: usize = 14;
const LIMB: u64 = 100_000_000_000_000;
/// 2^80 (= 1208925819614629174706176), the step between consecutive positions, in base
/// 10^14, least significant limb first.
const POSITION_STEP: [u64; 2] = [14_629_174_706_176, 12_089_258_196];

struct Run {
    number: SequenceNumber,
    /// The decimal digits in base 10^14, most significant limb first.
    limbs: [u64; DIGITS / LIMB_DIGITS],
    text: [u8; DIGITS],
}

impl Run {
    fn new(number: SequenceNumber, text: &str) -> Option<Run> {
        let text: [u8; DIGITS] = text.as_bytes().try_into().ok()?;
        let mut limbs = [0; DIGITS / LIMB_DIGITS];
        for (limb, digits) in limbs.iter_mut().zip(text.chunks_exact(LIMB_DIGITS)) {
            *limb = std::str::from_utf8(digits).ok()?.parse().ok()?;
        }
        Some(Run {
            number,
            limbs,
            text,
        })
    }

    /// Adds 2^80; `None` if the number outgrew 56 digits.
    fn step(&mut self) -> Option<()> {
        let mut carry = 0;
        for i in (0..self.limbs.len()).rev() {
            let add = POSITION_STEP
                .get(self.limbs.len() - 1 - i)
                .copied()
                .unwrap_or(0);
            if add == 0 && carry == 0 {
                return Some(());
            }
            let sum = self.limbs[i] + add + carry;
            carry = u64::from(sum >= LIMB);
            self.limbs[i] = sum - carry * LIMB;
            write_limb(
                &mut self.text[i * LIMB_DIGITS..(i + 1) * LIMB_DIGITS],
                self.limbs[i],
            );
        }
        (carry == 0).then_some(())
    }
}

/// Writes `v` (< 10^14) as exactly 14 digits, two at a time.
fn write_limb(out: &mut [u8], mut v: u64) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    for pair in out.rchunks_exact_mut(2) {
        let d = (v % 100) as usize * 2;
        v /= 100;
        pair.copy_from_slice(&PAIRS[d..d + 2]);
    }
}

impl Formatter {
    pub fn format(&mut self, n: SequenceNumber) -> SequenceText {
        if let Some(run) = &mut self.last {
            let next_of_prev = SequenceNumber {
                position: run.number.position.wrapping_add(1),
                ..run.number
            };
            if n == next_of_prev && n.position <= END_POSITION && run.step().is_some() {
                run.number = n;
                if let Ok(text) = std::str::from_utf8(&run.text) {
                    return inline(text);
                }
            }
        }
        let text = n.to_decimal();
        self.last = Run::new(n, &text);
        inline(&text)
    }
}

fn inline(digits: &str) -> SequenceText {
    SequenceText::from(digits).expect("the layout makes every sequence number 56 digits long")
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
        // A closed shard's EndingSequenceNumber captured from AWS.
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
    fn formatter_matches_full_conversion_across_runs_and_carries() {
        let mut f = Formatter::default();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..200 {
            let start = match next() % 3 {
                0 => next() % 1000,
                1 => END_POSITION - 300,
                _ => next() >> 2,
            };
            let base = SequenceNumber {
                shard_create_secs: next() % (1 << 36),
                shard_index: (next() % 5000) as u32,
                position: start,
                record_secs: 1_700_000_000 + next() % 3,
            };
            for k in 0..(next() % 400) {
                let position = start.saturating_add(k).min(END_POSITION);
                let n = SequenceNumber { position, ..base };
                assert_eq!(f.format(n).as_str(), n.to_decimal(), "{n:?}");
            }
        }
    }

    #[test]
    fn rejects_foreign_numbers() {
        assert_eq!(SequenceNumber::parse("0"), None);
        // As AWS reads what clients send.
        assert_eq!(
            SequenceNumber::classify("5"),
            Classified::Small { shard_index: 5 }
        );
        let version = |last: char| format!("2{}{last}", "0".repeat(45));
        let from_hex = |hex: &str| U256::from_str_radix(hex, 16).unwrap().to_string();
        assert_eq!(
            SequenceNumber::classify(&from_hex(&version('1'))),
            Classified::Foreign { shard_index: 0 }
        );
        for bad in [version('0'), version('3'), version('4')] {
            assert_eq!(
                SequenceNumber::classify(&from_hex(&bad)),
                Classified::Invalid
            );
        }
        // Leading hex digit 1 or 3: out of the layout's range.
        for lead in ['1', '3'] {
            let hex = format!("{lead}{}2", "0".repeat(45));
            assert_eq!(
                SequenceNumber::classify(&from_hex(&hex)),
                Classified::Invalid
            );
        }
        // The position's top bit, or a create time from 2477 on, makes version 2 invalid.
        let top_bit = format!("2{}8{}2", "0".repeat(10), "0".repeat(34));
        assert_eq!(
            SequenceNumber::classify(&from_hex(&top_bit)),
            Classified::Invalid
        );
        let late = format!("2{:09x}{}2", 16_025_175_000u64, "0".repeat(36));
        assert_eq!(
            SequenceNumber::classify(&from_hex(&late)),
            Classified::Invalid
        );
        // The shard index is signed.
        let negative = format!("2{}800000002", "0".repeat(37));
        assert_eq!(
            SequenceNumber::classify(&from_hex(&negative)),
            Classified::Foreign {
                shard_index: i32::MIN
            }
        );
        assert_eq!(SequenceNumber::parse("12345"), None);
        assert_eq!(SequenceNumber::parse("abc"), None);
    }
}
