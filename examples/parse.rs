//! Parses callback bodies and prints one JSON line per event: the same line the reference
//! receiver prints for each dispatched event.
//!
//! ```text
//! cargo run --example parse -- tests/fixtures/upstream/callback_first_addvocals_kie_en.json
//! curl -s … | cargo run --example parse          # a body on standard input
//! cargo run --example parse -- --record-info tests/fixtures/upstream/recordinfo_success_kie_en.json
//! ```
//!
//! With `--record-info`, the files are polling answers and every event they stand for is
//! printed. Errors go to standard error with their stable kind; the exit status is 1 if any
//! body was refused.

use std::{
    io::{self, Read, Write},
    process::ExitCode,
};

use vocals_callback::{VocalsEvent, parse, record_info};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let polling = args.first().is_some_and(|a| a == "--record-info");
    if polling {
        args.remove(0);
    }
    let inputs = if args.is_empty() {
        vec!["-".to_owned()]
    } else {
        args
    };
    let mut failed = false;
    let mut out = io::stdout().lock();
    for input in inputs {
        let body = match read(&input) {
            Ok(body) => body,
            Err(e) => {
                eprintln!("{input}: cannot read: {e}");
                failed = true;
                continue;
            }
        };
        let events: Result<Vec<VocalsEvent>, _> = if polling {
            record_info::parse(&body).map(|info| info.events())
        } else {
            parse(&body).map(|event| vec![event])
        };
        match events {
            Ok(events) => {
                for event in events {
                    let line = serde_json::to_string(&event).unwrap_or_default();
                    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                        return ExitCode::FAILURE;
                    }
                }
            }
            Err(e) => {
                eprintln!("{input}: rejected ({}): {e}", e.kind());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn read(input: &str) -> io::Result<Vec<u8>> {
    if input == "-" {
        let mut body = Vec::new();
        io::stdin().read_to_end(&mut body)?;
        Ok(body)
    } else {
        std::fs::read(input)
    }
}
