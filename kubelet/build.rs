//! Builds the pod sandbox's `pause` program (`pause/pause.c`) into
//! `$OUT_DIR/pause`: a tiny static binary the runc runtime embeds and
//! writes into the read-only rootfs of every sandbox.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "pause/pause.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("pause");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&cc)
        .args(["-static", "-Os", "-s", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(src)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?} to build {src}: {e}"));
    assert!(status.success(), "{cc} failed to build {src} ({status})");
}
