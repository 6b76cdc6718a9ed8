//! `resource.Quantity`: `100m`, `1.5`, `128Mi`, `1G`, `1e3`. Kept as the
//! string the user wrote (that is what round-trips on the wire);
//! arithmetic goes through an exact parsed form, [`ParsedQuantity`], which
//! holds the value as an integer count of nano units (no floats anywhere).

mod format;
mod parse;

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest magnitude a parsed quantity holds: `i64::MAX` whole units
/// (Kubernetes caps parsed values the same way), in nano units.
const MAX_NANOS: u128 = i64::MAX as u128 * 1_000_000_000;

/// A resource quantity as written by the user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Quantity(pub String);

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// Accepts strings and plain JSON numbers (`cpu: 2`), as Kubernetes does.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quantity such as \"100m\", \"128Mi\" or 2")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Quantity(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a quantity was written; decides how it is printed back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// `1e3`, `5E-3`.
    DecimalExponent,
    /// `128Mi`, `1Gi`.
    BinarySI,
    /// `100m`, `1`, `2k`, `1G`.
    #[default]
    DecimalSI,
}

/// The exact value of a quantity, in nano units, and the format it was
/// written in. Equality and ordering compare values only (`1000m == 1`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ParsedQuantity {
    nanos: i128,
    format: QuantityFormat,
}

impl Quantity {
    /// Parse a quantity string exactly as `resource.ParseQuantity` does:
    /// optional sign, digits with an optional fraction, then a suffix —
    /// decimal SI (`n u m k M G T P E`), binary SI (`Ki Mi Gi Ti Pi Ei`) or a
    /// decimal exponent (`e3`, `E-3`). Precision finer than `1n` is rounded
    /// up (away from zero); magnitudes above `i64::MAX` units are capped.
    pub fn parse(s: &str) -> Result<ParsedQuantity, String> {
        let (nanos, format) = parse::parse(s)?;
        Ok(ParsedQuantity { nanos, format })
    }

    /// This quantity's exact value. Surrounding whitespace is ignored, as
    /// when Kubernetes decodes a quantity from JSON.
    pub fn parsed(&self) -> Result<ParsedQuantity, String> {
        Quantity::parse(self.0.trim())
    }

    /// The value in thousandths, rounded up (`MilliValue`). An invalid
    /// string counts as zero; validation rejects those at the API boundary.
    pub fn milli_value(&self) -> i64 {
        self.parsed_or_zero().milli_value()
    }

    /// The value in whole units, rounded up (`Value`). An invalid string
    /// counts as zero.
    pub fn value(&self) -> i64 {
        self.parsed_or_zero().value()
    }

    /// Whether the value is zero (`0`, `0m`, `0Gi`, ...). An invalid string
    /// counts as zero.
    pub fn is_zero(&self) -> bool {
        self.parsed_or_zero().is_zero()
    }

    /// Compare by value (`1Gi > 1G`, `1000m == 1`). An invalid string counts
    /// as zero.
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        self.parsed_or_zero().cmp(&other.parsed_or_zero())
    }

    /// The canonical spelling of this quantity (`1.5k` → `1500`,
    /// `1024Mi` → `1Gi`), which is what Kubernetes serializes.
    pub fn canonical(&self) -> Result<Quantity, String> {
        self.parsed().map(|p| p.to_quantity())
    }

    /// `n` thousandths in decimal SI form (`from_milli(100)` → `100m`).
    pub fn from_milli(milli: i64) -> Quantity {
        ParsedQuantity::from_milli(milli, QuantityFormat::DecimalSI).to_quantity()
    }

    /// A byte count in binary SI form (`from_bytes(128 << 20)` → `128Mi`).
    pub fn from_bytes(bytes: i64) -> Quantity {
        ParsedQuantity::from_value(bytes, QuantityFormat::BinarySI).to_quantity()
    }

    /// A whole number in decimal SI form (`from_value(2000)` → `2k`).
    pub fn from_value(value: i64) -> Quantity {
        ParsedQuantity::from_value(value, QuantityFormat::DecimalSI).to_quantity()
    }

    fn parsed_or_zero(&self) -> ParsedQuantity {
        self.parsed().unwrap_or_default()
    }
}

impl std::str::FromStr for ParsedQuantity {
    type Err = String;
    fn from_str(s: &str) -> Result<ParsedQuantity, String> {
        Quantity::parse(s)
    }
}

impl ParsedQuantity {
    /// A value given in nano units.
    pub fn from_nanos(nanos: i128, format: QuantityFormat) -> ParsedQuantity {
        ParsedQuantity { nanos, format }
    }

    /// A value given in thousandths.
    pub fn from_milli(milli: i64, format: QuantityFormat) -> ParsedQuantity {
        Self::from_nanos(i128::from(milli) * 1_000_000, format)
    }

    /// A value given in whole units.
    pub fn from_value(value: i64, format: QuantityFormat) -> ParsedQuantity {
        Self::from_nanos(i128::from(value) * 1_000_000_000, format)
    }

    /// The exact value in nano units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The format the quantity was written in.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value in units of `10^scale` (`scale = -3` for milli), rounded
    /// away from zero when inexact and saturating at the `i64` range, as
    /// `ScaledValue` does.
    pub fn scaled_value(&self, scale: i32) -> i64 {
        let shift = scale + 9; // nanos are units of 10^-9
        let v = if shift <= 0 {
            10i128
                .checked_pow(shift.unsigned_abs())
                .and_then(|f| self.nanos.checked_mul(f))
                .unwrap_or(if self.nanos < 0 { i128::MIN } else { i128::MAX })
        } else {
            match 10i128.checked_pow(shift as u32) {
                Some(div) => {
                    let q = self.nanos / div;
                    let away = self.nanos.signum();
                    if self.nanos % div == 0 {
                        q
                    } else {
                        q + away
                    }
                }
                None => self.nanos.signum(),
            }
        };
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// The value in thousandths, rounded up (`MilliValue`).
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(-3)
    }

    /// The value in whole units, rounded up (`Value`).
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// `self + other`, or `None` on overflow. The result keeps this
    /// quantity's format unless this one is zero (as `Quantity.Add`).
    pub fn checked_add(self, other: ParsedQuantity) -> Option<ParsedQuantity> {
        Some(ParsedQuantity {
            nanos: self.nanos.checked_add(other.nanos)?,
            format: self.result_format(other),
        })
    }

    /// `self - other`, or `None` on overflow. Format as [`checked_add`](Self::checked_add).
    pub fn checked_sub(self, other: ParsedQuantity) -> Option<ParsedQuantity> {
        Some(ParsedQuantity {
            nanos: self.nanos.checked_sub(other.nanos)?,
            format: self.result_format(other),
        })
    }

    fn result_format(self, other: ParsedQuantity) -> QuantityFormat {
        if self.is_zero() {
            other.format
        } else {
            self.format
        }
    }

    /// The canonical wire form.
    pub fn to_quantity(&self) -> Quantity {
        Quantity(self.to_string())
    }
}

impl fmt::Display for ParsedQuantity {
    /// Canonical form for the quantity's format: `100m`, `1`, `1500`,
    /// `128Mi`, `1G`, `1e3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format::canonical(self.nanos, self.format))
    }
}

impl PartialEq for ParsedQuantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for ParsedQuantity {}

impl PartialOrd for ParsedQuantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ParsedQuantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Add for ParsedQuantity {
    type Output = ParsedQuantity;
    /// Saturating sum (the range is far beyond any real resource total).
    fn add(self, other: ParsedQuantity) -> ParsedQuantity {
        ParsedQuantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format: self.result_format(other),
        }
    }
}

impl Sub for ParsedQuantity {
    type Output = ParsedQuantity;
    /// Saturating difference.
    fn sub(self, other: ParsedQuantity) -> ParsedQuantity {
        ParsedQuantity {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: self.result_format(other),
        }
    }
}

impl AddAssign for ParsedQuantity {
    fn add_assign(&mut self, other: ParsedQuantity) {
        *self = *self + other;
    }
}

impl SubAssign for ParsedQuantity {
    fn sub_assign(&mut self, other: ParsedQuantity) {
        *self = *self - other;
    }
}

impl Neg for ParsedQuantity {
    type Output = ParsedQuantity;
    fn neg(self) -> ParsedQuantity {
        ParsedQuantity {
            nanos: self.nanos.saturating_neg(),
            format: self.format,
        }
    }
}

impl std::iter::Sum for ParsedQuantity {
    fn sum<I: Iterator<Item = ParsedQuantity>>(iter: I) -> ParsedQuantity {
        iter.fold(ParsedQuantity::default(), Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> ParsedQuantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn canon(s: &str) -> String {
        q(s).to_string()
    }

    #[test]
    fn decimal_si_suffixes() {
        for (s, nanos) in [
            ("1n", 1),
            ("1u", 1_000),
            ("1m", 1_000_000),
            ("1", 1_000_000_000),
            ("1k", 1_000_000_000_000),
            ("1M", 10i128.pow(15)),
            ("1G", 10i128.pow(18)),
            ("1T", 10i128.pow(21)),
            ("1P", 10i128.pow(24)),
            ("1E", 10i128.pow(27)),
        ] {
            assert_eq!(q(s).nanos(), nanos, "{s}");
            assert_eq!(q(s).format(), QuantityFormat::DecimalSI, "{s}");
            assert_eq!(canon(s), s);
        }
    }

    #[test]
    fn binary_si_suffixes() {
        for (s, shift) in [
            ("1Ki", 10),
            ("1Mi", 20),
            ("1Gi", 30),
            ("1Ti", 40),
            ("1Pi", 50),
            ("1Ei", 60),
        ] {
            assert_eq!(q(s).value(), 1i64 << shift, "{s}");
            assert_eq!(q(s).format(), QuantityFormat::BinarySI, "{s}");
            assert_eq!(canon(s), s);
        }
        assert_eq!(q("1.5Gi").value(), 1536 << 20);
    }

    #[test]
    fn exponents_signs_and_fractions() {
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("1E3").value(), 1000);
        assert_eq!(q("1e+3").value(), 1000);
        assert_eq!(q("1E-3").milli_value(), 1);
        assert_eq!(q("1e3").format(), QuantityFormat::DecimalExponent);
        assert_eq!(q("-5").value(), -5);
        assert_eq!(q("+5").value(), 5);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("0.1").milli_value(), 100);
        assert_eq!(q(".5").milli_value(), 500);
        assert_eq!(q("5.").value(), 5);
        assert_eq!(q("007").value(), 7);
        assert_eq!(q("-1.5Ki").value(), -1536);
        assert_eq!(q("2.5e-1").milli_value(), 250);
    }

    #[test]
    fn zero() {
        for s in ["0", "0m", "0Gi", "-0", "0.0", "0e6", "+0k"] {
            assert!(q(s).is_zero(), "{s}");
            assert_eq!(canon(s), "0", "{s}");
        }
        assert_eq!(q("0e6").format(), QuantityFormat::DecimalSI);
        assert!(Quantity("0Mi".into()).is_zero());
        assert!(!Quantity("1n".into()).is_zero());
    }

    #[test]
    fn invalid() {
        let format_err =
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
        for s in ["", "abc", "1.2.3", "1 ", " 1", "1x", "1Mi3x", "1e3.5"] {
            assert_eq!(Quantity::parse(s).unwrap_err(), format_err, "{s:?}");
        }
        // `--1` reads as `-` followed by the suffix `-1`, as upstream.
        for s in [
            "1K",
            "1ki",
            "--1",
            "1e",
            "1Mm",
            "1iM",
            "1e99999999999999999999",
        ] {
            assert_eq!(
                Quantity::parse(s).unwrap_err(),
                "unable to parse quantity's suffix",
                "{s:?}"
            );
        }
        // The wire type tolerates surrounding whitespace, as JSON decoding does.
        assert_eq!(Quantity(" 1Gi ".into()).parsed().unwrap(), q("1Gi"));
        assert_eq!(Quantity("bogus".into()).milli_value(), 0);
    }

    #[test]
    fn comparisons() {
        assert!(q("1Gi") > q("1G"));
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("1k"), q("1e3"));
        assert_eq!(q("1Ki"), q("1024"));
        assert!(q("999m") < q("1"));
        assert!(q("-1") < q("1n"));
        assert!(q("100Mi") < q("0.1Gi"));
        let a = Quantity("1Gi".into());
        let b = Quantity("1G".into());
        assert_eq!(a.cmp_value(&b), Ordering::Greater);
        assert_eq!(
            Quantity("1000m".into()).cmp_value(&Quantity("1".into())),
            Ordering::Equal
        );
    }

    #[test]
    fn arithmetic() {
        assert_eq!((q("100m") + q("900m")).to_string(), "1");
        assert_eq!((q("1Gi") - q("512Mi")).to_string(), "512Mi");
        assert_eq!((q("1") - q("1500m")).to_string(), "-500m");
        assert_eq!((q("1Gi") + q("1")).to_string(), "1073741825");
        // a zero left operand adopts the right one's format
        assert_eq!((q("0") + q("1Ki")).to_string(), "1Ki");
        assert_eq!((q("1k") + q("1Ki")).format(), QuantityFormat::DecimalSI);
        let total: ParsedQuantity = ["250m", "250m", "0.5"].iter().map(|s| q(s)).sum();
        assert_eq!(total, q("1"));
        let mut x = q("2");
        x -= q("500m");
        x += q("1m");
        assert_eq!(x.milli_value(), 1501);
        assert_eq!(-q("1m"), q("-1m"));
        assert_eq!(q("1").checked_add(q("1")), Some(q("2")));
        assert_eq!(
            ParsedQuantity::from_nanos(i128::MAX, QuantityFormat::DecimalSI).checked_add(q("1n")),
            None
        );
        assert_eq!(q("1n").checked_sub(q("2n")), Some(q("-1n")));
    }

    #[test]
    fn rounding_up() {
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("1001u").milli_value(), 2);
        assert_eq!(q("1m").value(), 1);
        assert_eq!(q("1.001").value(), 2);
        assert_eq!(q("2").value(), 2);
        assert_eq!(q("-1m").value(), -1, "away from zero");
        assert_eq!(q("-1.5").value(), -2, "away from zero");
        // finer than a nano rounds up at parse time
        assert_eq!(q("0.1n").nanos(), 1);
        assert_eq!(q("1e-12").nanos(), 1);
        assert_eq!(q("-1e-12").nanos(), -1);
        assert_eq!(q("1.0000000001").nanos(), 1_000_000_001);
        assert_eq!(q("1").scaled_value(3), 1, "1 in thousands rounds up");
        assert_eq!(q("123456").scaled_value(3), 124);
        assert_eq!(q("1").scaled_value(-12), 1_000_000_000_000);
    }

    #[test]
    fn saturation() {
        let big = q("9223372036854775807");
        assert_eq!(big.value(), i64::MAX);
        assert_eq!(q("10E").value(), i64::MAX, "capped at parse");
        assert_eq!(q("1e100").value(), i64::MAX);
        assert_eq!(q("-1e100").value(), -i64::MAX);
        assert_eq!(big.milli_value(), i64::MAX, "milli saturates");
        assert_eq!(
            q("99999999999999999999999999999999999999999999").value(),
            i64::MAX
        );
    }

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("100m", "100m"),
            ("0.1", "100m"),
            ("1000m", "1"),
            ("1.5k", "1500"),
            ("1500m", "1500m"),
            ("1000", "1k"),
            ("1000000000", "1G"),
            ("0.5Gi", "512Mi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("1023Ki", "1023Ki"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("1.5Ki", "1536"),
            ("1.0001Ki", "1024102400u"),
            ("-128Mi", "-128Mi"),
            ("1e3", "1e3"),
            ("1E-3", "1e-3"),
            ("1.5e3", "1500"),
            ("12e6", "12e6"),
            ("100e0", "100"),
            ("1n", "1n"),
            ("1234567n", "1234567n"),
            ("-1.5", "-1500m"),
        ] {
            assert_eq!(canon(input), want, "{input}");
            assert_eq!(canon(want), want, "{want} is a fixed point");
        }
    }

    #[test]
    fn constructors() {
        assert_eq!(Quantity::from_milli(100).0, "100m");
        assert_eq!(Quantity::from_milli(1000).0, "1");
        assert_eq!(Quantity::from_milli(2500).0, "2500m");
        assert_eq!(Quantity::from_bytes(128 << 20).0, "128Mi");
        assert_eq!(Quantity::from_bytes(1 << 30).0, "1Gi");
        // below 1Ki binary quantities print as decimal; above, only
        // binary suffixes are used
        assert_eq!(Quantity::from_bytes(1000).0, "1k");
        assert_eq!(Quantity::from_bytes(1_000_000_000).0, "1000000000");
        assert_eq!(Quantity::from_value(1_000_000_000).0, "1G");
        assert_eq!(Quantity::from_bytes(0).0, "0");
        assert_eq!(Quantity::from_value(4).0, "4");
        assert_eq!(Quantity("1.5k".into()).canonical().unwrap().0, "1500");
        assert_eq!(Quantity("2".into()).milli_value(), 2000);
        assert_eq!(Quantity("128Mi".into()).value(), 134_217_728);
    }

    #[test]
    fn serde_round_trip_unchanged() {
        let q: Quantity = serde_json::from_str("\"1.5k\"").unwrap();
        assert_eq!(serde_json::to_string(&q).unwrap(), "\"1.5k\"");
        let n: Quantity = serde_json::from_str("2").unwrap();
        assert_eq!(n.value(), 2);
    }
}
