//! Resource quantities as validation sees them.

use crate::quantity::Quantity;
use crate::status::{FieldError, FieldErrors};

/// A quantity that parses and is not negative (`ValidateResourceQuantityValue`).
pub fn resource_quantity(field: &str, q: &Quantity) -> FieldErrors {
    match q.parsed() {
        Err(msg) => vec![FieldError::invalid(field, &q.0, &msg)],
        Ok(p) if p.nanos() < 0 => vec![FieldError::invalid(
            field,
            &q.0,
            "must be greater than or equal to 0",
        )],
        Ok(_) => Vec::new(),
    }
}
