//! `vocals-callback`: the reference receiver and the provider's deliveries, from the command
//! line (feature `cli`).
//!
//! ```sh
//! cargo install vocals-callback --features cli      # or, from a checkout: --path .
//! vocals-callback receive                           # prints a generated key on stderr
//! vocals-callback simulate --url http://127.0.0.1:3000/vocals-callback --key KEY
//! vocals-callback load --url http://127.0.0.1:3000/vocals-callback --key KEY --requests 100000
//! ```
//!
//! `receive` verifies, parses and deduplicates callbacks, and prints one JSON line per
//! handled event on standard output; `simulate` sends a signed `text` → `first` →
//! `complete` sequence and the other scenarios of `testkit::Scenario` to any URL and checks
//! every answer; `load` sends new signed callbacks as fast as the receiver answers (or at
//! `--rate`) and reports the answers, rate and latency. `vocals-callback help <command>`
//! lists each command's flags.

use std::{io, io::IsTerminal, process::ExitCode};

use clap::{Parser, Subcommand};

mod load;
mod receive;
mod scrape;
mod simulate;

/// The Add Vocals callback receiver and its delivery simulator.
#[derive(Debug, Parser)]
#[command(name = "vocals-callback", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive callbacks: verify, parse, deduplicate, print one JSON line per event.
    Receive(receive::Args),
    /// Send the provider's deliveries (signed, with retries) to a receiver and check each
    /// answer.
    Simulate(simulate::Args),
    /// Load a receiver: keep-alive connections, every request a new event signed on the
    /// spot; report answers per status, rate and latency.
    Load(load::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match cli.command {
        Command::Receive(args) => receive::run(args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Load(args) => load::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("vocals-callback: {err}");
            ExitCode::FAILURE
        }
    }
}
