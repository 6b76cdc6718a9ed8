//! `tug-apiserver` flags: limits. SKELETON (issue 8): the limits engineer fills
//! this in.

/// Flags of this concern, flattened into [`super::Flags`].
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LimitFlags {}
