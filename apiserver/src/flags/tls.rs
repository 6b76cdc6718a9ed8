//! `tug-apiserver` flags: tls. SKELETON (issue 8): the tls engineer fills
//! this in.

/// Flags of this concern, flattened into [`super::Flags`].
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TlsFlags {}
