//! `tugctl`: filled in by the Client issue. Until then it says so and fails.

fn main() {
    println!("tugctl {}", env!("CARGO_PKG_VERSION"));
    eprintln!("tugctl: not implemented yet");
    std::process::exit(1);
}
