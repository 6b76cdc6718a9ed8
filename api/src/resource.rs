//! What makes a type a resource the API serves: its group/version/kind,
//! where it lives in the URL space, and access to its metadata.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::meta::ObjectMeta;

/// A kind served by the API (Pod, Deployment, ...).
///
/// Every implementor has `apiVersion`, `kind` and `metadata` fields; the
/// [`impl_resource!`](crate::impl_resource) macro writes the impl.
pub trait Resource: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static {
    /// API group; empty for the core (`v1`) group.
    const GROUP: &'static str;
    const VERSION: &'static str;
    const KIND: &'static str;
    /// Lower-case plural used in URLs (`pods`).
    const PLURAL: &'static str;
    /// Lower-case singular (`pod`).
    const SINGULAR: &'static str;
    const NAMESPACED: bool;
    /// kubectl short names (`po`, `deploy`, ...).
    const SHORT_NAMES: &'static [&'static str];

    /// `v1` or `apps/v1`.
    fn api_version() -> String {
        if Self::GROUP.is_empty() {
            Self::VERSION.to_string()
        } else {
            format!("{}/{}", Self::GROUP, Self::VERSION)
        }
    }

    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;

    /// Fill `apiVersion` and `kind` with this type's values.
    fn set_type_meta(&mut self);
}

/// Implements [`Resource`] for a struct with `api_version`, `kind` and
/// `metadata` fields.
///
/// ```text
/// impl_resource!(Pod, group = "", version = "v1", kind = "Pod",
///                plural = "pods", singular = "pod", namespaced = true, short = ["po"]);
/// ```
#[macro_export]
macro_rules! impl_resource {
    ($ty:ty, group = $group:expr, version = $version:expr, kind = $kind:expr,
     plural = $plural:expr, singular = $singular:expr, namespaced = $ns:expr,
     short = [$($short:expr),*]) => {
        impl $crate::resource::Resource for $ty {
            const GROUP: &'static str = $group;
            const VERSION: &'static str = $version;
            const KIND: &'static str = $kind;
            const PLURAL: &'static str = $plural;
            const SINGULAR: &'static str = $singular;
            const NAMESPACED: bool = $ns;
            const SHORT_NAMES: &'static [&'static str] = &[$($short),*];
            fn meta(&self) -> &$crate::meta::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut $crate::meta::ObjectMeta {
                &mut self.metadata
            }
            fn set_type_meta(&mut self) {
                self.api_version = <Self as $crate::resource::Resource>::api_version();
                self.kind = $kind.to_string();
            }
        }
    };
}
