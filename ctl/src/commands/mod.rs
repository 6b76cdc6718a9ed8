//! The verbs of `tugctl`, one module per verb or family of verbs, and the
//! entry point that runs the parsed command line.
//!
//! Every command returns `Result<(), CtlError>`; [`main`] prints the
//! error as one line on stderr and exits 1. Commands that work through
//! many objects (apply, delete, get NAME...) print a line per bad object
//! as they go and carry on, as kubectl does.

pub mod apply;
pub mod cluster;
pub mod config;
pub mod context;
pub mod create;
pub mod delete;
pub mod deployments;
pub mod describe;
pub mod error;
pub mod get;
pub mod info;
pub mod logs;
pub mod manifests;
pub mod metadata;
pub mod node;
pub mod prune;
pub mod rollout;
pub mod scale;
pub mod target;
pub mod token;
pub mod wait;
pub mod watch;

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, Command, CompletionShell};
use context::Ctx;
use error::Result;

/// Run the command line; the process exit code.
pub fn main(cli: Cli) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(line) = e.line() {
                eprintln!("{line}");
            }
            1
        }
    }
}

/// Dispatch to the verb.
async fn run(cli: Cli) -> Result<()> {
    let ctx = || Ctx::new(&cli.global);
    match &cli.command {
        Command::Get(args) => get::run(&ctx()?, args).await,
        Command::Apply(args) => apply::run(&ctx()?, args).await,
        Command::Create(args) => create::create(&ctx()?, args).await,
        Command::Replace(args) => create::replace(&ctx()?, args).await,
        Command::Delete(args) => delete::run(&ctx()?, args).await,
        Command::Describe(args) => describe::run(&ctx()?, args).await,
        Command::Scale(args) => scale::run(&ctx()?, args).await,
        Command::Label(args) => metadata::run(&ctx()?, args, metadata::Field::Labels).await,
        Command::Annotate(args) => metadata::run(&ctx()?, args, metadata::Field::Annotations).await,
        Command::Cordon(args) => node::cordon(&ctx()?, args, true).await,
        Command::Uncordon(args) => node::cordon(&ctx()?, args, false).await,
        Command::Drain(args) => node::drain(&ctx()?, args).await,
        Command::Rollout(command) => rollout::run(&ctx()?, command).await,
        Command::Logs(args) => logs::run(&ctx()?, args).await,
        Command::Version(args) => info::version(ctx(), args).await,
        Command::ApiResources(args) => info::api_resources(&ctx()?, args).await,
        Command::Config(command) => config::run(&cli.global, command),
        Command::Cluster(command) => cluster::run(&cli.global, command).await,
        Command::Token(command) => token::run(&cli.global, command).await,
        Command::Completion(args) => {
            completion(args.shell);
            Ok(())
        }
    }
}

/// `completion bash|zsh`: the shell code that completes tugctl's verbs and flags.
fn completion(shell: CompletionShell) {
    let mut command = Cli::command();
    let mut out = Vec::new();
    match shell {
        CompletionShell::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut command, "tugctl", &mut out)
        }
        CompletionShell::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut command, "tugctl", &mut out)
        }
    }
    emit(&String::from_utf8_lossy(&out));
}

/// Write `text` to stdout now (watch rows must not wait in a buffer). A
/// closed stdout (`tugctl get -w | head`) ends the program quietly.
pub fn emit(text: &str) {
    if text.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

/// [`emit`] one line.
pub fn emit_line(line: impl std::fmt::Display) {
    emit(&format!("{line}\n"));
}
