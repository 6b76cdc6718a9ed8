//! `skip_serializing_if` predicates: Kubernetes omits zero values of
//! `omitempty` fields, and so do we.

pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}

pub(crate) fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
