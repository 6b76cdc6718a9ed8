//! Container resource requests and limits.

use crate::core::pod::container::ResourceRequirements;
use crate::status::{FieldError, FieldErrors};
use crate::validation;

const STANDARD_CONTAINER_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage"];

/// Names are standard (`cpu`, `memory`, `ephemeral-storage`,
/// `hugepages-*`) or domain-qualified extended resources; quantities parse
/// and are not negative; a request never exceeds its limit.
pub(super) fn resource_requirements(field: &str, res: &ResourceRequirements) -> FieldErrors {
    let mut errs = Vec::new();
    for (name, q) in &res.limits {
        let f = format!("{field}.limits[{name}]");
        errs.extend(resource_name(&f, name));
        errs.extend(validation::resource_quantity(&f, q));
    }
    for (name, q) in &res.requests {
        let f = format!("{field}.requests[{name}]");
        errs.extend(resource_name(&f, name));
        errs.extend(validation::resource_quantity(&f, q));
        let (Some(limit), Ok(req)) = (res.limits.get(name), q.parsed()) else {
            continue;
        };
        if let Ok(lim) = limit.parsed() {
            if req > lim {
                errs.push(FieldError::invalid(
                    &format!("{field}.requests"),
                    &q.0,
                    &format!("must be less than or equal to {name} limit of {}", limit.0),
                ));
            }
        }
    }
    errs
}

fn resource_name(field: &str, name: &str) -> FieldErrors {
    let errs = validation::qualified_name(field, name);
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/')
        && !STANDARD_CONTAINER_RESOURCES.contains(&name)
        && !name.starts_with("hugepages-")
    {
        return vec![FieldError::invalid(
            field,
            name,
            "must be a standard resource for containers",
        )];
    }
    Vec::new()
}
