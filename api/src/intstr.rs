//! `intstr.IntOrString`: a field that holds either a number or a string
//! (`targetPort: 8080` / `targetPort: http`, `maxSurge: 25%`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl IntOrString {
    /// `intstr.GetScaledValueFromIntOrPercent`: an int is returned as is; a
    /// percentage string (`25%`) is that share of `total`, rounded up or
    /// down. Any other string is an error.
    ///
    /// `25%` of 10 is 3 rounded up and 2 rounded down.
    pub fn scaled_value(&self, total: i32, round_up: bool) -> Result<i32, String> {
        let s = match self {
            IntOrString::Int(i) => return Ok(*i),
            IntOrString::String(s) => s,
        };
        let err = |detail: String| format!("invalid value for IntOrString: {detail}");
        let Some(digits) = s.strip_suffix('%') else {
            return Err(err("invalid type: string is not a percentage".into()));
        };
        let percent: i64 = digits.parse().map_err(|e: std::num::ParseIntError| {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            err(format!(
                "invalid value {s:?}: strconv.Atoi: parsing {digits:?}: {why}"
            ))
        })?;
        // Exact integer arithmetic instead of upstream's float64 (same
        // results for every value a float represents exactly).
        let product = i128::from(percent) * i128::from(total);
        let scaled = if round_up {
            -(-product).div_euclid(100)
        } else {
            product.div_euclid(100)
        };
        i32::try_from(scaled).map_err(|_| err(format!("{s:?} of {total} is out of range")))
    }
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(i) => s.serialize_i32(*i),
            IntOrString::String(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom(format!("integer {v} out of range")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom(format!("integer {v} out of range")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(IntOrString::String(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.to_string())
    }

    #[test]
    fn scaled_value_of_percentages() {
        assert_eq!(pct("25%").scaled_value(10, true), Ok(3));
        assert_eq!(pct("25%").scaled_value(10, false), Ok(2));
        assert_eq!(pct("50%").scaled_value(10, true), Ok(5));
        assert_eq!(pct("0%").scaled_value(10, true), Ok(0));
        assert_eq!(pct("100%").scaled_value(7, false), Ok(7));
        assert_eq!(pct("150%").scaled_value(10, false), Ok(15));
        assert_eq!(pct("1%").scaled_value(1, true), Ok(1));
        assert_eq!(pct("1%").scaled_value(1, false), Ok(0));
        assert_eq!(pct("25%").scaled_value(0, true), Ok(0));
        assert_eq!(pct("-25%").scaled_value(10, true), Ok(-2));
        assert_eq!(pct("-25%").scaled_value(10, false), Ok(-3));
    }

    #[test]
    fn scaled_value_of_ints() {
        assert_eq!(IntOrString::Int(4).scaled_value(10, true), Ok(4));
        assert_eq!(IntOrString::Int(40).scaled_value(10, false), Ok(40));
    }

    #[test]
    fn scaled_value_errors() {
        assert_eq!(
            pct("3").scaled_value(10, true).unwrap_err(),
            "invalid value for IntOrString: invalid type: string is not a percentage"
        );
        assert_eq!(
            pct("x%").scaled_value(10, true).unwrap_err(),
            "invalid value for IntOrString: invalid value \"x%\": strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert!(pct("%").scaled_value(10, true).is_err());
        assert!(pct("99999999999999999999%").scaled_value(10, true).is_err());
        assert!(pct("1000000000%").scaled_value(1000, true).is_err());
    }
}
