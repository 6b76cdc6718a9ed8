//! `tug-proxy`: filled in by a later issue. Until then it says so and fails,
//! so nothing mistakes it for a working component.

fn main() {
    println!("tug-proxy {}", env!("CARGO_PKG_VERSION"));
    eprintln!("tug-proxy: not implemented yet");
    std::process::exit(1);
}
