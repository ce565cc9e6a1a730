//! The installed command as a new user meets it: `vocals-callback receive`, then
//! `vocals-callback simulate` pointed at it, every answer as expected; the receiver's event
//! lines; the exit codes of a bad key and a usage error; and `vocals-callback load` against
//! it, its counts matching what the receiver handled.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// The binary cargo built for this test.
const EXE: &str = env!("CARGO_BIN_EXE_vocals-callback");

/// `vocals-callback receive` on a free port with no key (it generates one): its address,
/// the generated key, and its standard output, line by line.
struct Receiver {
    child: Child,
    url: String,
    key: String,
    lines: mpsc::Receiver<String>,
}

impl Receiver {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(EXE)
            .args(["receive", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("VOCALS_KEYS")
            .env_remove("VOCALS_LISTEN")
            .env_remove("VOCALS_PATH")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting vocals-callback receive");
        let (stderr, stdout) = (child.stderr.take().unwrap(), child.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (out_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out_tx.send(line);
            }
        });
        let (mut key, mut url) = (None, None);
        while url.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the receiver printed neither its key nor its address");
            if let Some(k) = line.strip_prefix("VOCALS_KEYS=") {
                key = Some(k.to_owned());
            }
            if let Some((_, rest)) = line.split_once("listening on ") {
                url = Some(rest.trim().to_owned());
            }
        }
        Self {
            child,
            url: url.unwrap(),
            key: key.expect("no key given: one is generated and printed"),
            lines,
        }
    }

    fn load(&self, key: &str, extra: &[&str]) -> (i32, String) {
        let out = Command::new(EXE)
            .args([
                "load",
                "--url",
                &self.url,
                "--key",
                key,
                "--connections",
                "4",
            ])
            .args(extra)
            .env_remove("VOCALS_KEYS")
            .output()
            .expect("running vocals-callback load");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn simulate(&self, key: &str, extra: &[&str]) -> (i32, String) {
        let out = Command::new(EXE)
            .args(["simulate", "--url", &self.url, "--key", key])
            .args(extra)
            .output()
            .expect("running vocals-callback simulate");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn simulate_against_receive_gets_every_answer_it_expects() {
    let rx = Receiver::start(&[]);
    let (code, out) = rx.simulate(&rx.key, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("# all 18 answers as expected"), "{out}");
    // One line per handled event (10 of the 18 answers), each with its delivery.
    let lines: Vec<serde_json::Value> = (0..10)
        .map(|_| {
            let line = rx.lines.recv_timeout(Duration::from_secs(5)).unwrap();
            serde_json::from_str(&line).unwrap()
        })
        .collect();
    assert!(rx.lines.recv_timeout(Duration::from_millis(200)).is_err());
    for line in &lines {
        assert!(
            line["task_id"].is_string() && line["stage"].is_string(),
            "{line}"
        );
        let delivery = &line["delivery"];
        assert_eq!(delivery["source"], "callback", "{line}");
        assert_eq!(delivery["key_label"], "default", "{line}");
        assert_eq!(delivery["attempt"], 1, "{line}");
        assert!(delivery["signed_at"].as_u64().is_some(), "{line}");
    }
}

#[test]
fn a_wrong_key_and_a_usage_error_end_in_their_exit_codes() {
    let rx = Receiver::start(&["--mode", "queue", "--quiet"]);
    // Queued mode answers the same; a wrong key gets 401s, and simulate says so with 1.
    let (code, out) = rx.simulate(&rx.key, &["--scenario", "sequence"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = rx.simulate("not-the-key", &["--scenario", "sequence"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("invalid_signature"), "{out}");
    let bad = Command::new(EXE)
        .args(["simulate", "--scenario", "nope", "--key", "k"])
        .output()
        .unwrap();
    assert_ne!(bad.status.code(), Some(0));
    let usage = Command::new(EXE)
        .args(["receive", "--mode", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2), "clap's usage error");
}

/// The value of `key=` on the `summary` line of a load report.
fn summary(out: &str, key: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("summary "))
        .unwrap_or_else(|| panic!("no summary line: {out}"));
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        .parse()
        .unwrap()
}

#[test]
fn load_sends_new_signed_events_and_counts_every_answer() {
    // Not --quiet: every handled event prints its line, so the receiver's own count is
    // checked against the generator's.
    let rx = Receiver::start(&["--threads", "1"]);
    let (code, out) = rx.load(&rx.key, &["--requests", "300", "--expect-status", "200"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(summary(&out, "sent"), 300, "{out}");
    assert_eq!(summary(&out, "answered"), 300, "{out}");
    assert_eq!(summary(&out, "status_200"), 300, "{out}");
    assert_eq!(summary(&out, "received"), 300, "{out}");
    assert_eq!(summary(&out, "unexpected"), 0, "{out}");
    assert!(out.contains("  200 received: 300"), "{out}");
    // 300 events, each a task of its own.
    let mut tasks = std::collections::HashSet::new();
    for _ in 0..300 {
        let line = rx.lines.recv_timeout(Duration::from_secs(5)).unwrap();
        let line: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(line["stage"], "complete", "{line}");
        tasks.insert(line["task_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(tasks.len(), 300);
    assert!(rx.lines.recv_timeout(Duration::from_millis(200)).is_err());

    // One body repeated: one event, the rest duplicates; all 200.
    let (code, out) = rx.load(
        &rx.key,
        &["--requests", "50", "--repeat", "--expect-status", "200"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(summary(&out, "received"), 1, "{out}");
    assert_eq!(summary(&out, "duplicate"), 49, "{out}");

    // The wrong key: every answer a 401, counted by reason, and exit 1 under --expect-status.
    let (code, out) = rx.load(
        "not-the-key",
        &[
            "--requests",
            "20",
            "--body",
            "text",
            "--expect-status",
            "200",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(summary(&out, "status_401"), 20, "{out}");
    assert!(out.contains("401 rejected invalid_signature: 20"), "{out}");
}
