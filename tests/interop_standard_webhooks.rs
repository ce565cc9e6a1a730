//! Interop with the reference Python implementation of Standard Webhooks (the PyPI package
//! `standardwebhooks`, written by neither side of this project):
//!
//! - (a) Python signs random messages (random 24–64-byte secrets, with and without
//!   `whsec_`, random ids, timestamps and UTF-8 bodies); `StandardWebhooks` must accept
//!   every one, and the testkit signer must produce the same text;
//! - (b) the testkit signs random messages at the current time (some with two signatures,
//!   as during a key rotation); Python's `Webhook.verify`, on its wall clock, must accept
//!   every one, and must refuse the tampered controls.
//!
//! The package is installed with `python3 -m pip install --quiet standardwebhooks` when it
//! is missing (set `PYTHON` to use another interpreter). The test fails, never skips, when
//! Python or the package cannot be had.

use std::{
    io::Write,
    process::{Command, Stdio},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use http::HeaderMap;
use serde_json::{Value, json};
use vocals_callback::{
    RejectionKind,
    testkit::{sign_standard_webhooks, standard_webhooks_request},
    verify::{StandardWebhooks, Verifier, VerifyRequest},
};

const SIGN_COUNT: usize = 200;
const VERIFY_COUNT: usize = 200;
const CONTROLS: usize = 10;

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn has_package(python: &str) -> bool {
    Command::new(python)
        .args(["-c", "import standardwebhooks.webhooks"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ensure_package(python: &str) {
    if has_package(python) {
        return;
    }
    let out = Command::new(python)
        .args(["-m", "pip", "install", "--quiet", "standardwebhooks"])
        .output()
        .unwrap_or_else(|e| {
            panic!("interop test needs Python: cannot run `{python}` ({e}); set PYTHON")
        });
    assert!(
        has_package(python),
        "interop test needs the PyPI package `standardwebhooks`, and \
         `{python} -m pip install --quiet standardwebhooks` failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// splitmix64: enough randomness for test inputs, with a seed printed for replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }

    fn pick(&mut self, chars: &[char], len: usize) -> String {
        (0..len).map(|_| chars[self.below(chars.len())]).collect()
    }

    fn secret(&mut self) -> String {
        let len = 24 + self.below(41);
        let encoded = STANDARD.encode(self.bytes(len));
        if self.below(2) == 0 {
            format!("whsec_{encoded}")
        } else {
            encoded
        }
    }
}

fn alnum() -> Vec<char> {
    ('a'..='z').chain('A'..='Z').chain('0'..='9').collect()
}

fn body_chars() -> Vec<char> {
    let mut chars = alnum();
    chars.extend(" {}[]\":,.-_\\/\n\té€漢🎵".chars());
    chars
}

fn run_python(python: &str, request: &Value) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/standard_webhooks.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{python}`: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Python helper failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn headers(id: &str, ts: u64, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", id.parse().unwrap());
    headers.insert("webhook-timestamp", ts.to_string().parse().unwrap());
    headers.insert("webhook-signature", signature.parse().unwrap());
    headers
}

#[test]
fn interop_with_the_python_standardwebhooks_package() {
    let python = python();
    ensure_package(&python);

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let seed = u64::try_from(now.as_nanos() % u128::from(u64::MAX)).unwrap();
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let now = now.as_secs();
    let (alnum, body_chars) = (alnum(), body_chars());

    // (b) Messages signed here, for Python to verify at its wall clock.
    let mut to_verify = Vec::new();
    for i in 0..VERIFY_COUNT + CONTROLS {
        let secret = rng.secret();
        let id = format!("msg_{}", {
            let len = 1 + rng.below(30);
            rng.pick(&alnum, len)
        });
        let len = rng.below(200);
        let body = rng.pick(&body_chars, len);
        let req = standard_webhooks_request(&secret, &id, now, body.clone().into_bytes());
        let mut signature = req.headers()["webhook-signature"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            signature,
            sign_standard_webhooks(&secret, &id, now, body.as_bytes())
        );
        if i % 4 == 0 {
            // Rotation: another key's signature first, ours second.
            let other = rng.secret();
            signature = format!(
                "{} {signature}",
                sign_standard_webhooks(&other, &id, now, body.as_bytes())
            );
        }
        // The last ones are controls: the body is changed after signing.
        let body = if i >= VERIFY_COUNT {
            format!("{body}!")
        } else {
            body
        };
        to_verify.push(json!({
            "secret": secret, "id": id, "timestamp": now, "body": body, "signature": signature,
        }));
    }

    let answer = run_python(
        &python,
        &json!({ "sign_count": SIGN_COUNT, "seed": seed, "verify": to_verify }),
    );

    let verified = answer["verified"].as_array().unwrap();
    assert_eq!(verified.len(), VERIFY_COUNT + CONTROLS);
    for (i, (verdict, case)) in verified.iter().zip(&to_verify).enumerate() {
        if i < VERIFY_COUNT {
            assert_eq!(verdict, &Value::Bool(true), "python refused ours: {case}");
        } else {
            assert_ne!(
                verdict,
                &Value::Bool(true),
                "python accepted a control: {case}"
            );
        }
    }

    // (a) Messages signed by Python, for StandardWebhooks.
    let signed = answer["signed"].as_array().unwrap();
    assert_eq!(signed.len(), SIGN_COUNT);
    for case in signed {
        let secret = case["secret"].as_str().unwrap();
        let id = case["id"].as_str().unwrap();
        let ts = case["timestamp"].as_u64().unwrap();
        let body = case["body"].as_str().unwrap().as_bytes();
        let signature = case["signature"].as_str().unwrap();
        assert_eq!(
            sign_standard_webhooks(secret, id, ts, body),
            signature,
            "{case}"
        );
        let verifier = StandardWebhooks::new(secret).unwrap_or_else(|e| panic!("{case}: {e}"));
        let headers = headers(id, ts, signature);
        for clock in [ts, ts.saturating_sub(300), ts + 300] {
            let at = UNIX_EPOCH + Duration::from_secs(clock);
            let verified = verifier
                .verify(&VerifyRequest::new(&headers, body, at))
                .unwrap_or_else(|e| panic!("we refused python's {case}: {e}"));
            assert_eq!(verified.key_label(), Some("default"));
        }
        let tampered = [body, b" "].concat();
        let at = UNIX_EPOCH + Duration::from_secs(ts);
        assert_eq!(
            verifier
                .verify(&VerifyRequest::new(&headers, &tampered, at))
                .unwrap_err()
                .kind(),
            RejectionKind::InvalidSignature
        );
    }
}
