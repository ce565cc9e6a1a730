//! Prints the parsed form of callback bodies given as file paths (a debugging aid).
#![allow(clippy::print_stdout, clippy::unwrap_used)]
fn main() {
    for path in std::env::args().skip(1) {
        let body = std::fs::read(&path).unwrap();
        match vocals_callback::parse(&body) {
            Ok(e) => println!("{path}: {}", serde_json::to_string(&e).unwrap()),
            Err(e) => println!("{path}: {e} ({})", e.kind()),
        }
    }
}
