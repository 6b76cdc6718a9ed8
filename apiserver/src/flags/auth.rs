//! `tug-apiserver` flags: auth. SKELETON (issue 8): the auth engineer fills
//! this in.

/// Flags of this concern, flattened into [`super::Flags`].
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AuthFlags {}
