//! Numeric range checks with Kubernetes' wording
//! (`ValidateNonnegativeField`, `InclusiveRangeError`).

use crate::status::{FieldError, FieldErrors};

/// `must be greater than or equal to 0`.
pub fn non_negative(field: &str, value: i64) -> FieldErrors {
    if value < 0 {
        vec![FieldError::invalid(
            field,
            value,
            "must be greater than or equal to 0",
        )]
    } else {
        Vec::new()
    }
}

/// `must be greater than 0`.
pub fn positive(field: &str, value: i64) -> FieldErrors {
    if value <= 0 {
        vec![FieldError::invalid(field, value, "must be greater than 0")]
    } else {
        Vec::new()
    }
}

/// `must be between LO and HI, inclusive`.
pub fn in_range(field: &str, value: i64, lo: i64, hi: i64) -> FieldErrors {
    if value < lo || value > hi {
        vec![FieldError::invalid(field, value, &range_message(lo, hi))]
    } else {
        Vec::new()
    }
}

/// The text of Kubernetes' `InclusiveRangeError`.
pub fn range_message(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording() {
        assert_eq!(
            non_negative("spec.replicas", -1)[0].to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert!(non_negative("f", 0).is_empty());
        assert!(positive("f", 0).len() == 1);
        assert_eq!(
            in_range("f", 0, 1, 65535)[0].message(),
            "Invalid value: 0: must be between 1 and 65535, inclusive"
        );
    }
}
