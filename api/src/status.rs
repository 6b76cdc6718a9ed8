//! The `Status` object every error is returned as, and the field errors
//! validation produces (`field.ErrorList` upstream).

use std::fmt;

use serde::{Deserialize, Serialize};

/// `metav1.Status`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// `Success` or `Failure`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    #[serde(default)]
    pub code: u16,
}

/// `metav1.StatusDetails`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<i64>,
}

/// `metav1.StatusCause`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCause {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

impl Status {
    /// A `Failure` status with the given HTTP code, reason and message.
    pub fn failure(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Status {
            kind: "Status".into(),
            api_version: "v1".into(),
            status: "Failure".into(),
            message: message.into(),
            reason: reason.into(),
            code,
            ..Default::default()
        }
    }

    /// A `Success` status (returned by some deletes).
    pub fn success() -> Self {
        Status {
            kind: "Status".into(),
            api_version: "v1".into(),
            status: "Success".into(),
            code: 200,
            ..Default::default()
        }
    }

    pub fn with_details(mut self, details: StatusDetails) -> Self {
        self.details = Some(details);
        self
    }
}

/// The kind of a field error (`field.ErrorType` upstream); the string forms
/// are what `StatusCause.reason` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorType {
    Invalid,
    Required,
    Duplicate,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    NotFound,
}

impl FieldErrorType {
    /// `StatusCause.reason` for this error type.
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::NotSupported => "FieldValueNotSupported",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::TooLong => "FieldValueTooLong",
            FieldErrorType::TooMany => "FieldValueTooMany",
            FieldErrorType::NotFound => "FieldValueNotFound",
        }
    }

    /// The human phrase Kubernetes prints before the detail.
    fn phrase(self) -> &'static str {
        match self {
            FieldErrorType::Invalid => "Invalid value",
            FieldErrorType::Required => "Required value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::NotSupported => "Unsupported value",
            FieldErrorType::Forbidden => "Forbidden",
            FieldErrorType::TooLong => "Too long",
            FieldErrorType::TooMany => "Too many",
            FieldErrorType::NotFound => "Not found",
        }
    }

    fn shows_value(self) -> bool {
        matches!(
            self,
            FieldErrorType::Invalid
                | FieldErrorType::Duplicate
                | FieldErrorType::NotSupported
                | FieldErrorType::NotFound
        )
    }
}

/// One validation failure on one field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorType,
    /// Path such as `spec.template.spec.containers[0].name`.
    pub field: String,
    /// The offending value, rendered as Kubernetes renders it (strings quoted).
    pub value: Option<String>,
    pub detail: String,
}

impl FieldError {
    fn new(kind: FieldErrorType, field: &str, value: Option<String>, detail: &str) -> Self {
        FieldError {
            kind,
            field: field.to_string(),
            value,
            detail: detail.to_string(),
        }
    }
    pub fn invalid(field: &str, value: impl fmt::Debug, detail: &str) -> Self {
        Self::new(
            FieldErrorType::Invalid,
            field,
            Some(format!("{value:?}")),
            detail,
        )
    }
    pub fn required(field: &str, detail: &str) -> Self {
        Self::new(FieldErrorType::Required, field, None, detail)
    }
    pub fn duplicate(field: &str, value: impl fmt::Debug) -> Self {
        Self::new(
            FieldErrorType::Duplicate,
            field,
            Some(format!("{value:?}")),
            "",
        )
    }
    pub fn not_supported(field: &str, value: impl fmt::Debug, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        Self::new(
            FieldErrorType::NotSupported,
            field,
            Some(format!("{value:?}")),
            &format!("supported values: {}", list.join(", ")),
        )
    }
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new(FieldErrorType::Forbidden, field, None, detail)
    }
    pub fn too_long(field: &str, max: usize) -> Self {
        Self::new(
            FieldErrorType::TooLong,
            field,
            None,
            &format!("may not be more than {max} bytes"),
        )
    }

    /// The message without the field path (`StatusCause.message`).
    pub fn message(&self) -> String {
        let mut s = self.kind.phrase().to_string();
        if self.kind.shows_value() {
            if let Some(v) = &self.value {
                s.push_str(": ");
                s.push_str(v);
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    pub fn to_cause(&self) -> StatusCause {
        StatusCause {
            reason: self.kind.reason().into(),
            message: self.message(),
            field: self.field.clone(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

/// A list of field errors; empty means valid.
pub type FieldErrors = Vec<FieldError>;

/// The 422 `Invalid` status for a failed validation, worded as Kubernetes
/// words it: `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: ...`.
pub fn invalid_status(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Status {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let joined = if list.len() == 1 {
        list[0].clone()
    } else {
        format!("[{}]", list.join(", "))
    };
    Status::failure(
        422,
        "Invalid",
        format!("{qualified} \"{name}\" is invalid: {joined}"),
    )
    .with_details(StatusDetails {
        name: name.into(),
        group: group.into(),
        kind: kind.into(),
        causes: errors.iter().map(FieldError::to_cause).collect(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_message_matches_kubernetes_wording() {
        let e = FieldError::invalid("spec.replicas", -1, "must be greater than or equal to 0");
        let s = invalid_status("Deployment", "apps", "web", &[e]);
        assert_eq!(
            s.message,
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let cause = &s.details.unwrap().causes[0];
        assert_eq!(cause.reason, "FieldValueInvalid");
        assert_eq!(cause.field, "spec.replicas");
    }

    #[test]
    fn string_values_are_quoted() {
        let e = FieldError::invalid("metadata.name", "Bad_Name", "x");
        assert_eq!(e.message(), "Invalid value: \"Bad_Name\": x");
    }
}
