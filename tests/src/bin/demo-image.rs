//! `demo-image OUT.tar`: write the offline demo image archive (the
//! machine's busybox-static tagged `docker.io/library/busybox:1.36` and
//! `:1.37`, what `manifests/` runs) to `OUT.tar`, for
//! `tugctl cluster up --image-archive OUT.tar` or `tug-kubelet image
//! import` on a machine without internet.
//!
//! ```sh
//! cargo run -p tug-tests --bin demo-image -- demo-images.tar
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use tug_tests::images::{busybox_available, demo_archive, BUSYBOX, DEMO_IMAGES};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out] = args.as_slice() else {
        eprintln!("usage: demo-image OUT.tar");
        return ExitCode::from(2);
    };
    if !busybox_available() {
        eprintln!("demo-image: {BUSYBOX} not found (apt-get install busybox-static)");
        return ExitCode::FAILURE;
    }
    let out = PathBuf::from(out);
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("demo-image: a temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let archive = demo_archive(scratch.path());
    if let Err(e) = std::fs::copy(&archive, &out) {
        eprintln!("demo-image: writing {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!("{}: {}", out.display(), DEMO_IMAGES.join(", "));
    ExitCode::SUCCESS
}
