//! Parsing a quantity string into an exact value, as
//! `resource.ParseQuantity` does: split into sign, digits and suffix,
//! interpret the suffix, then scale to nano units, rounding up (away from
//! zero) anything finer than a nano and capping the magnitude at
//! `i64::MAX` whole units.

use super::{QuantityFormat, MAX_NANOS};

/// `resource.ErrFormatWrong`.
pub(super) const ERR_FORMAT: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// `resource.ErrSuffix`.
const ERR_SUFFIX: &str = "unable to parse quantity's suffix";

/// The pieces of a quantity string (`parseQuantityString` upstream).
struct Parts<'a> {
    negative: bool,
    /// Integer digits without leading zeros (`"0"` when there are none).
    num: &'a str,
    /// Fraction digits after `.` (may be empty).
    denom: &'a str,
    suffix: &'a str,
}

fn digits_end(s: &[u8], from: usize) -> usize {
    from + s[from..].iter().take_while(|c| c.is_ascii_digit()).count()
}

fn split(s: &str) -> Result<Parts<'_>, String> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut negative = false;
    match b.first() {
        Some(b'-') => {
            negative = true;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    pos += b[pos..].iter().take_while(|&&c| c == b'0').count();
    if pos == b.len() {
        return Ok(Parts {
            negative,
            num: "0",
            denom: "",
            suffix: "",
        });
    }
    let num_end = digits_end(b, pos);
    let num = if num_end == pos {
        "0"
    } else {
        &s[pos..num_end]
    };
    pos = num_end;
    let mut denom = "";
    if b.get(pos) == Some(&b'.') {
        let end = digits_end(b, pos + 1);
        denom = &s[pos + 1..end];
        pos = end;
    }
    let suffix_start = pos;
    pos += b[pos..]
        .iter()
        .take_while(|c| b"eEinumkKMGTP".contains(c))
        .count();
    if matches!(b.get(pos), Some(b'-' | b'+')) {
        pos += 1;
    }
    if digits_end(b, pos) != b.len() {
        return Err(ERR_FORMAT.to_string());
    }
    Ok(Parts {
        negative,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// What a suffix means: a power of ten or of two, and the format it implies.
fn interpret_suffix(suffix: &str) -> Option<(i64, u32, QuantityFormat)> {
    let decimal = |e| Some((e, 0, QuantityFormat::DecimalSI));
    let binary = |e| Some((0, e, QuantityFormat::BinarySI));
    match suffix {
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E'])?;
            let exp: i64 = rest.parse().ok()?;
            Some((exp, 0, QuantityFormat::DecimalExponent))
        }
    }
}

/// Parse into (nano units, format).
pub(super) fn parse(s: &str) -> Result<(i128, QuantityFormat), String> {
    if s.is_empty() {
        return Err(ERR_FORMAT.to_string());
    }
    let parts = split(s)?;
    let (dec_exp, bin_exp, mut format) =
        interpret_suffix(parts.suffix).ok_or_else(|| ERR_SUFFIX.to_string())?;
    let digits: Vec<u8> = parts
        .num
        .bytes()
        .chain(parts.denom.bytes())
        .map(|c| c - b'0')
        .collect();
    let dec_exp = dec_exp.saturating_sub(parts.denom.len() as i64);
    let magnitude = to_nanos(digits, dec_exp, bin_exp);
    if magnitude == 0 && bin_exp == 0 {
        // A decimal zero has no better format.
        format = QuantityFormat::DecimalSI;
    }
    let nanos = magnitude as i128;
    Ok((if parts.negative { -nanos } else { nanos }, format))
}

/// `digits × 10^dec_exp × 2^bin_exp` in nano units, rounded up to a whole
/// nano and capped at [`MAX_NANOS`]. Works on the decimal digits directly
/// so that any length of input stays exact.
fn to_nanos(mut digits: Vec<u8>, dec_exp: i64, bin_exp: u32) -> u128 {
    let leading = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..leading);
    if digits.is_empty() {
        return 0;
    }
    if bin_exp > 0 {
        multiply(&mut digits, 1u64 << bin_exp);
    }
    let trailing = digits.iter().rev().take_while(|&&d| d == 0).count();
    digits.truncate(digits.len() - trailing);
    let exp = dec_exp.saturating_add(9).saturating_add(trailing as i64);
    // MAX_NANOS has 28 digits; anything longer is over the cap.
    const MAX_DIGITS: i64 = 28;
    let len = digits.len() as i64;
    let (int_digits, round_up) = if exp >= 0 {
        if len.saturating_add(exp) > MAX_DIGITS {
            return MAX_NANOS;
        }
        digits.extend(std::iter::repeat_n(0, exp as usize));
        (&digits[..], false)
    } else {
        // The last digit is non-zero, so cutting any digits leaves a remainder.
        let keep = len.saturating_add(exp).max(0);
        if keep > MAX_DIGITS {
            return MAX_NANOS;
        }
        (&digits[..keep as usize], true)
    };
    let value = int_digits
        .iter()
        .fold(0u128, |acc, &d| acc * 10 + u128::from(d))
        + u128::from(round_up);
    value.min(MAX_NANOS)
}

/// Multiply a big-endian decimal digit string in place.
fn multiply(digits: &mut Vec<u8>, factor: u64) {
    let mut carry: u128 = 0;
    for d in digits.iter_mut().rev() {
        let v = u128::from(*d) * u128::from(factor) + carry;
        *d = (v % 10) as u8;
        carry = v / 10;
    }
    while carry > 0 {
        digits.insert(0, (carry % 10) as u8);
        carry /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_nanos_rounds_and_caps() {
        assert_eq!(to_nanos(vec![1], -9, 0), 1);
        assert_eq!(to_nanos(vec![1], -10, 0), 1);
        assert_eq!(to_nanos(vec![1, 5], -10, 0), 2);
        assert_eq!(to_nanos(vec![0, 0], 5, 0), 0);
        assert_eq!(to_nanos(vec![1], 0, 10), 1_024_000_000_000);
        assert_eq!(to_nanos(vec![1], i64::MAX, 0), MAX_NANOS);
        assert_eq!(to_nanos(vec![1], i64::MIN, 0), 1);
        assert_eq!(to_nanos(vec![9; 40], -12, 0), MAX_NANOS);
        // 0.0000000001Ki = 1024e-10 = 102.4n → 103n
        assert_eq!(to_nanos(vec![1], -10, 10), 103);
    }

    #[test]
    fn multiply_digits() {
        let mut d = vec![9, 9];
        multiply(&mut d, 1 << 20);
        assert_eq!(d, vec![1, 0, 3, 8, 0, 9, 0, 2, 4]);
    }
}
