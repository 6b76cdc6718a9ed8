//! Canonical string form of a quantity (`Quantity.CanonicalizeBytes`
//! upstream): the largest suffix that keeps the number an integer, in the
//! format the quantity was written in.

use super::QuantityFormat;

const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// Render `nanos` (nano units) canonically for `format`.
pub(super) fn canonical(nanos: i128, format: QuantityFormat) -> String {
    if nanos == 0 {
        return "0".to_string();
    }
    let use_binary = format == QuantityFormat::BinarySI
        // Below 1Ki binary suffixes do not help; fractions cannot be shown.
        && nanos.unsigned_abs() >= 1024 * NANOS_PER_UNIT as u128
        && nanos % NANOS_PER_UNIT == 0;
    if use_binary {
        return binary(nanos / NANOS_PER_UNIT);
    }
    let exponent_format = format == QuantityFormat::DecimalExponent;
    decimal(nanos, exponent_format)
}

/// `mantissa × 10^exp`, exp a multiple of 3 and as large as possible.
fn decimal(nanos: i128, exponent_format: bool) -> String {
    let mut mantissa = nanos;
    let mut exp: i32 = -9;
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exp += 1;
    }
    while exp.rem_euclid(3) != 0 {
        mantissa *= 10;
        exp -= 1;
    }
    if !exponent_format {
        // `E` is the largest SI suffix (sums can exceed the parse cap).
        while exp > 18 {
            mantissa *= 1000;
            exp -= 3;
        }
    }
    let suffix = if exponent_format {
        if exp == 0 {
            String::new()
        } else {
            format!("e{exp}")
        }
    } else {
        decimal_si_suffix(exp).to_string()
    };
    format!("{mantissa}{suffix}")
}

fn decimal_si_suffix(exp: i32) -> &'static str {
    match exp {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => "",
    }
}

/// Whole units as `mantissa × 1024^n` with the largest n.
fn binary(units: i128) -> String {
    let mut mantissa = units;
    let mut power = 0;
    while power < 6 && mantissa.unsigned_abs() >= 1024 && mantissa % 1024 == 0 {
        mantissa /= 1024;
        power += 1;
    }
    let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
    format!("{mantissa}{suffix}")
}
