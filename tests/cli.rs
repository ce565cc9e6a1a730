//! The installed command as a new user meets it: `vocals-callback receive`, then
//! `vocals-callback simulate` pointed at it, every answer as expected; the receiver's event
//! lines; and the exit codes of a bad key and a usage error.

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
