//! `tugctl`: the kubectl-style command line for Tugboat.

use clap::Parser;

fn main() {
    let cli = tugctl::cli::Cli::parse();
    std::process::exit(tugctl::commands::main(cli));
}
