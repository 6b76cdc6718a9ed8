fn main() {
    eprintln!("tug-apiserver: not implemented yet");
    std::process::exit(1);
}
