//! `tug-kubelet shim`: the per-container monitor.
//!
//! SKELETON (issue 5 integration): the runtime engineer fills it in.

use std::process::ExitCode;

/// The arguments after `tug-kubelet shim`.
#[derive(clap::Args, Debug, Clone)]
pub struct ShimArgs {
    /// Everything the shim is told, as the runtime defines it.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Run the shim (never returns while the container runs).
pub fn main(args: ShimArgs) -> ExitCode {
    let _ = args;
    ExitCode::from(2)
}
