//! A simulator of the provider's delivery behaviour, as data.
//!
//! Each [`Scenario`] is an ordered list of [`Step`]s: a signed `http::Request` (the
//! kie.ai rule: `X-Webhook-Signature` = base64 HMAC-SHA256 of `task_id.timestamp`, see
//! [`KieSignature`](crate::verify::KieSignature)) and the answer a correct receiver gives
//! it ([`Expect`]). Send them in order to a service in-process or to a URL, and compare each
//! answer with [`Expect::matches`]. `vocals-callback simulate` (feature `cli`) does this over HTTP.
//!
//! Timestamps within a scenario are distinct seconds at or just before `now`: two genuine
//! callbacks of one task signed in the same second carry the same signature, which a
//! receiver that binds signatures to bodies refuses as a forgery (see
//! [`BindingCache`](crate::verify::BindingCache)).

use std::{
    error::Error as StdError,
    fmt,
    str::FromStr,
    time::{SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::Full;
use serde_json::{Value, json};

use super::{CallbackBody, TrackBody, kie_request};
use crate::{
    rejection::{Rejection, RejectionKind},
    stats::Outcome,
};

/// How far the timestamps of [`Scenario::Skew`] are from `now`: an hour, outside any
/// tolerance [`KieSignature`](crate::verify::KieSignature) accepts (less than an hour).
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::{Secret, testkit::SKEW_SECS, verify::KieSignature};
///
/// let widest = Duration::from_secs(SKEW_SECS - 1);
/// assert!(KieSignature::new(Secret::new("key")?).with_tolerance(widest).is_ok());
/// assert!(KieSignature::new(Secret::new("key")?).with_tolerance(widest * 2).is_err());
/// # Ok::<(), vocals_callback::ConfigError>(())
/// ```
pub const SKEW_SECS: u64 = 3600;

/// The lyrics of the simulated tracks: sections, a blank line between them.
const LYRICS: &str = "[Verse]\nNight city lights shining bright\nNeon rivers in the rain\n\n\
                      [Chorus]\nWe are made of iron\nWe are made of fire\n\n\
                      [Verse 2]\nEngines humming through the dark\n\n[Outro]\nMade of iron";

/// One behaviour of the provider's sender.
///
/// | scenario | deliveries | a correct receiver answers |
/// |---|---|---|
/// | `sequence` | `text` → `first` → `complete` | 200 `received` each |
/// | `retry` | `complete`, then the identical request again (same headers, same bytes) | `received`, `duplicate` |
/// | `duplicate` | `complete`, then the same event under a new timestamp and signature | `received`, `duplicate` |
/// | `reorder` | `complete` → `first` → `text` | `received`, `ignored`, `ignored` |
/// | `failure` | `text`, then a failure (`code` 501, `callbackType` `error`) | `received`, `received` |
/// | `skew` | `complete` an hour old, an hour ahead, then on time | 401 `timestamp_too_old`, 401 `timestamp_too_new`, `received` |
/// | `forgery` | `complete`, its headers over a swapped body, the sender's retry | `received`, 401 `signature_reused`, `duplicate` |
///
/// ```
/// use vocals_callback::testkit::Scenario;
///
/// let names: Vec<_> = Scenario::all().iter().map(|s| s.name()).collect();
/// assert_eq!(names, ["sequence", "retry", "duplicate", "reorder", "failure", "skew", "forgery"]);
/// assert_eq!("reorder".parse::<Scenario>()?, Scenario::Reorder);
/// # Ok::<(), vocals_callback::testkit::UnknownScenario>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scenario {
    /// `text` → `first` → `complete` of one task, with realistic tracks.
    Sequence,
    /// A delivery, then the identical request again, as the sender retries after a
    /// non-200 answer or a timeout.
    Retry,
    /// A delivery, then the same event re-sent later under a new timestamp and signature.
    Duplicate,
    /// `complete` arriving before `first` and `text` (late retries of earlier stages).
    Reorder,
    /// A task that fails after its `text` stage: `code` 501, `callbackType` `error`.
    Failure,
    /// Deliveries whose timestamps are outside the tolerance window, then one on time.
    Skew,
    /// Captured headers replayed over a swapped body (the MAC does not cover the body).
    Forgery,
}

const ALL: [Scenario; 7] = [
    Scenario::Sequence,
    Scenario::Retry,
    Scenario::Duplicate,
    Scenario::Reorder,
    Scenario::Failure,
    Scenario::Skew,
    Scenario::Forgery,
];

impl Scenario {
    /// Every scenario, in the order of the table above.
    ///
    /// ```
    /// use vocals_callback::testkit::Scenario;
    ///
    /// assert_eq!(Scenario::all().len(), 7);
    /// assert_eq!(Scenario::all()[0], Scenario::Sequence);
    /// ```
    #[must_use]
    pub const fn all() -> &'static [Self] {
        &ALL
    }

    /// The stable lowercase name, accepted back by [`FromStr`].
    ///
    /// ```
    /// use vocals_callback::testkit::Scenario;
    ///
    /// assert_eq!(Scenario::Forgery.name(), "forgery");
    /// assert_eq!(Scenario::Forgery.to_string(), "forgery");
    /// ```
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sequence => "sequence",
            Self::Retry => "retry",
            Self::Duplicate => "duplicate",
            Self::Reorder => "reorder",
            Self::Failure => "failure",
            Self::Skew => "skew",
            Self::Forgery => "forgery",
        }
    }

    /// One line saying what the scenario sends.
    ///
    /// ```
    /// use vocals_callback::testkit::Scenario;
    ///
    /// assert!(Scenario::Retry.description().contains("identical"));
    /// ```
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::Sequence => "text, first and complete of one task, in order",
            Self::Retry => "a delivery, then the identical request again (a retry)",
            Self::Duplicate => "a delivery, then the same event under a new signature",
            Self::Reorder => "complete before first and text",
            Self::Failure => "text, then a failure (code 501, callbackType error)",
            Self::Skew => "timestamps an hour old and an hour ahead, then one on time",
            Self::Forgery => "captured headers over a swapped body, then the sender's retry",
        }
    }

    /// The scenario's deliveries for `task_id`, signed with `key` (kie.ai rule) at
    /// timestamps around `now`, addressed to `uri` (a path such as `/vocals-callback` for a
    /// service in-process, or an absolute URL for a client).
    ///
    /// ```
    /// use http::{StatusCode, Uri};
    /// use vocals_callback::testkit::{FixedClock, Scenario};
    ///
    /// let now = FixedClock::at_unix(1_769_670_760).now();
    /// let uri = Uri::from_static("/vocals-callback");
    /// let deliveries = Scenario::Sequence.steps("key", &uri, "65e563474bd7", now);
    /// let labels: Vec<_> = deliveries.iter().map(|d| d.label.as_str()).collect();
    /// assert_eq!(labels, ["sequence/text", "sequence/first", "sequence/complete"]);
    /// assert!(deliveries.iter().all(|d| d.expect.status() == StatusCode::OK));
    /// assert_eq!(deliveries[2].request.headers()["x-webhook-timestamp"], "1769670760");
    /// ```
    #[must_use]
    pub fn steps(self, key: &str, uri: &Uri, task_id: &str, now: SystemTime) -> Vec<Step> {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let b = Builder {
            key,
            uri,
            task_id,
            prefix: self.name(),
        };
        let received = Expect::RECEIVED;
        match self {
            Self::Sequence => vec![
                b.signed("text", text(task_id), now.saturating_sub(2), received),
                b.signed("first", first(task_id), now.saturating_sub(1), received),
                b.signed("complete", complete(task_id), now, received),
            ],
            Self::Retry => {
                let sent = b.signed("complete", complete(task_id), now, received);
                let again = sent.again("complete (retry)", Expect::DUPLICATE);
                vec![sent, again]
            }
            Self::Duplicate => vec![
                b.signed(
                    "complete",
                    complete(task_id),
                    now.saturating_sub(1),
                    received,
                ),
                b.signed(
                    "complete (re-sent)",
                    complete(task_id),
                    now,
                    Expect::DUPLICATE,
                ),
            ],
            Self::Reorder => vec![
                b.signed(
                    "complete",
                    complete(task_id),
                    now.saturating_sub(2),
                    received,
                ),
                b.signed(
                    "first (late)",
                    first(task_id),
                    now.saturating_sub(1),
                    Expect::IGNORED,
                ),
                b.signed("text (late)", text(task_id), now, Expect::IGNORED),
            ],
            Self::Failure => vec![
                b.signed("text", text(task_id), now.saturating_sub(1), received),
                b.signed("error", failure(task_id), now, received),
            ],
            Self::Skew => vec![
                b.signed(
                    "complete (an hour old)",
                    complete(task_id),
                    now.saturating_sub(SKEW_SECS),
                    Expect::rejected(RejectionKind::TimestampTooOld),
                ),
                b.signed(
                    "complete (an hour ahead)",
                    complete(task_id),
                    now.saturating_add(SKEW_SECS),
                    Expect::rejected(RejectionKind::TimestampTooNew),
                ),
                b.signed("complete (on time)", complete(task_id), now, received),
            ],
            Self::Forgery => {
                let genuine = b.signed("complete", complete(task_id), now, received);
                let mut forged = genuine.again(
                    "complete (forged body)",
                    Expect::rejected(RejectionKind::SignatureReused),
                );
                forged.set_body(Bytes::from(forged_complete(task_id)));
                let retry = genuine.again("complete (sender's retry)", Expect::DUPLICATE);
                vec![genuine, forged, retry]
            }
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    /// Reads a [`name`](Scenario::name), in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.into_iter()
            .find(|sc| sc.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownScenario(s.to_owned()))
    }
}

/// A scenario name that [`Scenario::from_str`] does not know. Its `Display` lists the known
/// names.
///
/// ```
/// use vocals_callback::testkit::Scenario;
///
/// let err = "replay".parse::<Scenario>().unwrap_err();
/// assert_eq!(err.name(), "replay");
/// assert!(err.to_string().contains("sequence, retry"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScenario(String);

impl UnknownScenario {
    /// The name that was not recognised.
    ///
    /// ```
    /// use vocals_callback::testkit::Scenario;
    ///
    /// assert_eq!("nope".parse::<Scenario>().unwrap_err().name(), "nope");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown scenario {:?} (known: ", self.0)?;
        for (i, sc) in ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(sc.name())?;
        }
        f.write_str(")")
    }
}

impl StdError for UnknownScenario {}

/// One request of a [`Scenario`] and the answer a correct receiver gives it.
///
/// The request's body is a `Full<Bytes>`, so it goes straight into a service in-process
/// (`svc.oneshot(step.request.clone())`, through [`Step`]'s `Clone`) or out through an
/// HTTP client; [`body`](Self::body) holds the same bytes. `http::Request` is not `Clone`;
/// `Step` is (the extensions, always empty here, are not copied), so a sender can resend it.
///
/// ```
/// use http::Uri;
/// use vocals_callback::testkit::{FixedClock, Scenario};
///
/// let now = FixedClock::at_unix(1_769_670_760).now();
/// let uri = Uri::from_static("http://127.0.0.1:3000/vocals-callback");
/// let [sent, retry] = &Scenario::Retry.steps("key", &uri, "t1", now)[..] else { panic!() };
/// assert_eq!(sent.request.headers(), retry.request.headers());
/// assert_eq!(sent.body, retry.body);
/// assert_eq!(retry.expect.outcome(), "duplicate");
/// let resend = retry.clone();
/// assert_eq!(resend.request.uri(), &uri);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Step {
    /// `scenario/stage`, with a note in parentheses for the special deliveries.
    pub label: String,
    /// The signed request: `POST`, `Content-Type: application/json`,
    /// `X-Webhook-Timestamp`, `X-Webhook-Signature`.
    pub request: Request<Full<Bytes>>,
    /// The request's body, as bytes.
    pub body: Bytes,
    /// The answer of a correct receiver.
    pub expect: Expect,
}

impl Step {
    /// A copy under a new label and expectation.
    fn again(&self, label: &str, expect: Expect) -> Self {
        let mut copy = self.clone();
        copy.label = relabel(&self.label, label);
        copy.expect = expect;
        copy
    }

    /// Replaces the body, keeping the headers (a forgery).
    fn set_body(&mut self, body: Bytes) {
        *self.request.body_mut() = Full::new(body.clone());
        self.body = body;
    }
}

impl Clone for Step {
    fn clone(&self) -> Self {
        let mut request = Request::new(Full::new(self.body.clone()));
        request.method_mut().clone_from(self.request.method());
        request.uri_mut().clone_from(self.request.uri());
        *request.version_mut() = self.request.version();
        request.headers_mut().clone_from(self.request.headers());
        Self {
            label: self.label.clone(),
            request,
            body: self.body.clone(),
            expect: self.expect,
        }
    }
}

/// Replaces what follows the `scenario/` prefix of `label`.
fn relabel(label: &str, rest: &str) -> String {
    let prefix = label.split_once('/').map_or(label, |(p, _)| p);
    format!("{prefix}/{rest}")
}

/// The answer a correct receiver gives (the status table of the [`service`](crate::service)
/// module): the HTTP status and the JSON body's `status` and `reason`, as the service
/// answers an [`Outcome`].
///
/// ```
/// use http::StatusCode;
/// use vocals_callback::{RejectionKind, testkit::Expect};
///
/// assert!(Expect::RECEIVED.matches(StatusCode::OK, br#"{"status":"received"}"#));
/// assert!(!Expect::RECEIVED.matches(StatusCode::OK, br#"{"status":"duplicate"}"#));
/// let forged = Expect::rejected(RejectionKind::SignatureReused);
/// assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
/// assert!(forged.matches(
///     StatusCode::UNAUTHORIZED,
///     br#"{"status":"rejected","reason":"signature_reused"}"#,
/// ));
/// assert_eq!(forged.to_string(), "401 rejected (signature_reused)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Expect {
    status: StatusCode,
    outcome: &'static str,
    reason: Option<&'static str>,
}

impl Expect {
    /// 200 `{"status":"received"}`: the event was handled (or queued).
    pub const RECEIVED: Self = Self::of(&Outcome::Received);
    /// 200 `{"status":"duplicate"}`: the same `(task_id, stage)` was handled before.
    pub const DUPLICATE: Self = Self::of(&Outcome::Duplicate);
    /// 200 `{"status":"ignored"}`: a `text` or `first` after a later stage of its task.
    pub const IGNORED: Self = Self::of(&Outcome::Ignored);

    /// The answer the service gives `outcome`.
    ///
    /// ```
    /// use vocals_callback::{Outcome, testkit::Expect};
    ///
    /// assert_eq!(Expect::of(&Outcome::Duplicate), Expect::DUPLICATE);
    /// ```
    #[must_use]
    pub const fn of(outcome: &Outcome) -> Self {
        Self {
            status: outcome.status(),
            outcome: outcome.answer(),
            reason: match outcome {
                Outcome::Rejected(rejection) => Some(rejection.kind().as_str()),
                _ => None,
            },
        }
    }

    /// `{"status":"rejected","reason":"<kind>"}` with the kind's status.
    ///
    /// ```
    /// use http::StatusCode;
    /// use vocals_callback::{RejectionKind, testkit::Expect};
    ///
    /// let stale = Expect::rejected(RejectionKind::TimestampTooOld);
    /// assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(stale.reason(), Some("timestamp_too_old"));
    /// ```
    #[must_use]
    pub const fn rejected(kind: RejectionKind) -> Self {
        Self::of(&Outcome::Rejected(Rejection::new(kind)))
    }

    /// The HTTP status.
    ///
    /// ```
    /// use vocals_callback::testkit::Expect;
    ///
    /// assert_eq!(Expect::IGNORED.status(), http::StatusCode::OK);
    /// ```
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    /// The body's `status`: `received`, `duplicate`, `ignored` or `rejected`.
    ///
    /// ```
    /// use vocals_callback::testkit::Expect;
    ///
    /// assert_eq!(Expect::DUPLICATE.outcome(), "duplicate");
    /// ```
    #[must_use]
    pub const fn outcome(&self) -> &'static str {
        self.outcome
    }

    /// The body's `reason` (a [`RejectionKind`] name), for rejections only.
    ///
    /// ```
    /// use vocals_callback::testkit::Expect;
    ///
    /// assert_eq!(Expect::RECEIVED.reason(), None);
    /// ```
    #[must_use]
    pub const fn reason(&self) -> Option<&'static str> {
        self.reason
    }

    /// `true` when an answer with `status` and `body` is this one: the same status, a JSON
    /// object body with the same `status` and the same `reason` (absent when none is
    /// expected). Other members are allowed.
    ///
    /// ```
    /// use http::StatusCode;
    /// use vocals_callback::testkit::Expect;
    ///
    /// assert!(Expect::IGNORED.matches(StatusCode::OK, br#"{"status":"ignored"}"#));
    /// assert!(!Expect::IGNORED.matches(StatusCode::ACCEPTED, br#"{"status":"ignored"}"#));
    /// assert!(!Expect::IGNORED.matches(StatusCode::OK, b"ignored"));
    /// ```
    #[must_use]
    pub fn matches(&self, status: StatusCode, body: &[u8]) -> bool {
        if status != self.status {
            return false;
        }
        let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(body) else {
            return false;
        };
        answer.get("status").and_then(Value::as_str) == Some(self.outcome)
            && answer.get("reason").and_then(Value::as_str) == self.reason
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.outcome)?;
        match self.reason {
            Some(reason) => write!(f, " ({reason})"),
            None => Ok(()),
        }
    }
}

/// What every delivery of one scenario shares.
struct Builder<'a> {
    key: &'a str,
    uri: &'a Uri,
    task_id: &'a str,
    prefix: &'static str,
}

impl Builder<'_> {
    fn signed(&self, label: &str, body: Vec<u8>, timestamp: u64, expect: Expect) -> Step {
        let body = Bytes::from(body);
        let mut request = kie_request(self.key, self.task_id, timestamp, body.clone());
        request.uri_mut().clone_from(self.uri);
        Step {
            label: format!("{}/{label}", self.prefix),
            request,
            body,
            expect,
        }
    }
}

/// Two track ids shaped like the provider's UUIDs, derived from the task id (FNV-1a), so a
/// task's stages agree on them.
fn track_ids(task_id: &str) -> [String; 2] {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in task_id.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    [hash, hash.rotate_left(64) ^ 0x5bd1_e995].map(|h| {
        let hex = format!("{h:032x}");
        let part = |r: std::ops::Range<usize>| hex.get(r).unwrap_or_default().to_owned();
        format!(
            "{}-{}-4{}-a{}-{}",
            part(0..8),
            part(8..12),
            part(13..16),
            part(17..20),
            part(20..32)
        )
    })
}

fn track(id: &str) -> TrackBody {
    TrackBody::ready(id)
        .title("Made of Iron")
        .prompt(LYRICS)
        .set("tags", json!("industrial rock, male vocals, driving"))
}

fn text(task_id: &str) -> Vec<u8> {
    CallbackBody::text(task_id).to_bytes()
}

fn first(task_id: &str) -> Vec<u8> {
    let [a, b] = track_ids(task_id);
    CallbackBody::first(task_id)
        .track(track(&a))
        .track(
            TrackBody::unfinished(&b)
                .title("Made of Iron")
                .prompt(LYRICS),
        )
        .to_bytes()
}

fn complete(task_id: &str) -> Vec<u8> {
    let [a, b] = track_ids(task_id);
    CallbackBody::complete(task_id)
        .track(track(&a))
        .track(
            track(&b)
                .set("duration", json!(228.28))
                .set("createTime", json!(1_758_044_689_102_i64)),
        )
        .to_bytes()
}

/// The body an attacker puts under captured headers: same task id, their own media.
fn forged_complete(task_id: &str) -> Vec<u8> {
    let [a, _] = track_ids(task_id);
    CallbackBody::complete(task_id)
        .track(track(&a).set("audio_url", json!("https://attacker.example/payload.mp3")))
        .to_bytes()
}

fn failure(task_id: &str) -> Vec<u8> {
    CallbackBody::error(task_id, 501, "Audio generation failed").to_bytes()
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashSet,
        time::{Duration, UNIX_EPOCH},
    };

    use super::*;
    use crate::{
        Secret, Stage, parse,
        verify::{BindingCache, KieSignature, Verifier, VerifyRequest},
    };

    const KEY: &str = "test-webhook-hmac-key";
    const TASK: &str = "ee9c2715375b7837f8bb51d641ff5863";
    const NOW: u64 = 1_769_670_760;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn all_steps(uri: &Uri) -> Vec<(Scenario, Vec<Step>)> {
        Scenario::all()
            .iter()
            .map(|sc| (*sc, sc.steps(KEY, uri, TASK, now())))
            .collect()
    }

    fn verifier() -> KieSignature {
        KieSignature::new(Secret::new(KEY).unwrap())
    }

    fn header<'a>(d: &'a Step, name: &str) -> &'a str {
        d.request.headers()[name].to_str().unwrap()
    }

    /// A model of the receiver's pipeline: parse, verify, bind, claim.
    #[derive(Default)]
    struct Model {
        done: HashSet<(String, Stage)>,
    }

    impl Model {
        fn answer(&mut self, cache: &BindingCache, d: &Step) -> Expect {
            let body = &d.body;
            let event = parse(body).unwrap();
            let vreq = VerifyRequest::new(d.request.headers(), body, now())
                .with_task_id(Some(event.task_id()));
            let verified = match verifier().verify(&vreq) {
                Ok(v) => v,
                Err(r) => return Expect::rejected(r.kind()),
            };
            if let Err(r) = cache.bind_verified(&verified, body, now()) {
                return Expect::rejected(r.kind());
            }
            let task = event.task_id().to_owned();
            let stage = event.stage();
            if self.done.contains(&(task.clone(), stage)) {
                return Expect::DUPLICATE;
            }
            let later: &[Stage] = match stage {
                Stage::Text => &[Stage::First, Stage::Complete],
                Stage::First => &[Stage::Complete],
                _ => &[],
            };
            if later
                .iter()
                .any(|s| self.done.contains(&(task.clone(), *s)))
            {
                return Expect::IGNORED;
            }
            self.done.insert((task, stage));
            Expect::RECEIVED
        }
    }

    #[test]
    fn every_expectation_is_what_the_pipeline_answers() {
        for (scenario, deliveries) in all_steps(&Uri::from_static("/vocals-callback")) {
            // A fresh receiver per scenario, as the CLI uses a fresh task id per scenario.
            let cache = BindingCache::new(Duration::from_secs(300)).unwrap();
            let mut model = Model::default();
            for d in &deliveries {
                assert!(d.label.starts_with(&format!("{scenario}/")), "{}", d.label);
                assert_eq!(model.answer(&cache, d), d.expect, "{}", d.label);
            }
        }
    }

    #[test]
    fn requests_are_posts_of_json_to_the_uri_signed_with_the_kie_rule() {
        let uri = Uri::from_static("http://127.0.0.1:3000/vocals-callback");
        let verifier = verifier();
        for (_, deliveries) in all_steps(&uri) {
            for d in deliveries {
                assert_eq!(d.request.method(), http::Method::POST);
                assert_eq!(d.request.uri(), &uri);
                assert_eq!(header(&d, "content-type"), "application/json");
                let event = parse(&d.body).unwrap();
                assert_eq!(event.task_id(), TASK);
                let ts = header(&d, "x-webhook-timestamp");
                assert_eq!(
                    header(&d, "x-webhook-signature"),
                    super::super::sign_kie(KEY, TASK, ts)
                );
                // Checked at the delivery's own timestamp, every one passes.
                let at = UNIX_EPOCH + Duration::from_secs(ts.parse().unwrap());
                let vreq =
                    VerifyRequest::new(d.request.headers(), &d.body, at).with_task_id(Some(TASK));
                assert!(verifier.verify(&vreq).is_ok(), "{}", d.label);
            }
        }
    }

    #[test]
    fn skew_deliveries_are_an_hour_either_side_then_on_time() {
        let uri = Uri::from_static("/vocals-callback");
        let d = Scenario::Skew.steps(KEY, &uri, TASK, now());
        let stamps: Vec<u64> = d
            .iter()
            .map(|d| header(d, "x-webhook-timestamp").parse().unwrap())
            .collect();
        assert_eq!(stamps, [NOW - SKEW_SECS, NOW + SKEW_SECS, NOW]);
        // Outside even the largest tolerance the verifier accepts (just under an hour).
        let widest = KieSignature::new(Secret::new(KEY).unwrap())
            .with_tolerance(Duration::from_secs(SKEW_SECS - 1))
            .unwrap();
        let kinds: Vec<_> = d
            .iter()
            .map(|d| {
                let vreq = VerifyRequest::new(d.request.headers(), &d.body, now())
                    .with_task_id(Some(TASK));
                widest.verify(&vreq).err().map(|r| r.kind())
            })
            .collect();
        assert_eq!(
            kinds,
            [
                Some(RejectionKind::TimestampTooOld),
                Some(RejectionKind::TimestampTooNew),
                None
            ]
        );
        assert_eq!(d[0].expect.reason(), Some("timestamp_too_old"));
        assert_eq!(d[1].expect.reason(), Some("timestamp_too_new"));
    }

    #[test]
    fn a_forgery_replays_the_captured_headers_over_another_body_of_the_same_task() {
        let uri = Uri::from_static("/vocals-callback");
        let d = Scenario::Forgery.steps(KEY, &uri, TASK, now());
        let [genuine, forged, retry] = &d[..] else {
            panic!("three deliveries")
        };
        assert_eq!(genuine.request.headers(), forged.request.headers());
        assert_ne!(&genuine.body, &forged.body);
        assert_eq!(parse(&forged.body).unwrap().task_id(), TASK);
        assert_eq!(parse(&forged.body).unwrap().stage(), Stage::Complete);
        assert_eq!(forged.expect.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(forged.expect.reason(), Some("signature_reused"));
        assert_eq!(genuine.request.headers(), retry.request.headers());
        assert_eq!(&genuine.body, &retry.body);
    }

    #[test]
    fn a_retry_is_byte_identical_and_a_duplicate_is_re_signed() {
        let uri = Uri::from_static("/vocals-callback");
        let r = Scenario::Retry.steps(KEY, &uri, TASK, now());
        assert_eq!(r[0].request.headers(), r[1].request.headers());
        assert_eq!(&r[0].body, &r[1].body);
        let d = Scenario::Duplicate.steps(KEY, &uri, TASK, now());
        assert_eq!(&d[0].body, &d[1].body);
        assert_ne!(
            header(&d[0], "x-webhook-signature"),
            header(&d[1], "x-webhook-signature")
        );
        assert_ne!(
            header(&d[0], "x-webhook-timestamp"),
            header(&d[1], "x-webhook-timestamp")
        );
    }

    #[test]
    fn stages_and_tracks_are_realistic() {
        let uri = Uri::from_static("/vocals-callback");
        let d = Scenario::Sequence.steps(KEY, &uri, TASK, now());
        let events: Vec<_> = d.iter().map(|d| parse(&d.body).unwrap()).collect();
        let stages: Vec<_> = events.iter().map(crate::VocalsEvent::stage).collect();
        assert_eq!(stages, [Stage::Text, Stage::First, Stage::Complete]);
        assert!(events[0].tracks().is_empty());
        let ready: Vec<_> = events[1]
            .tracks()
            .iter()
            .map(crate::Track::is_ready)
            .collect();
        assert_eq!(ready, [true, false]);
        assert!(events[2].tracks().iter().all(crate::Track::is_ready));
        assert_eq!(events[1].tracks()[0].id(), events[2].tracks()[0].id());
        let id = events[2].tracks()[1].id().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        let lyrics = events[2].tracks()[0].lyrics();
        assert_eq!(lyrics.sections().len(), 4);
        let f = Scenario::Failure.steps(KEY, &uri, TASK, now());
        let failed = parse(&f[1].body).unwrap();
        assert_eq!(failed.stage(), Stage::Failed);
        assert_eq!(failed.code(), 501);
        assert_eq!(failed.callback().callback_type(), Some("error"));
    }

    #[test]
    fn names_round_trip_in_any_case_and_unknown_names_list_the_known_ones() {
        for sc in Scenario::all() {
            assert_eq!(sc.name().parse::<Scenario>(), Ok(*sc));
            assert_eq!(sc.name().to_uppercase().parse::<Scenario>(), Ok(*sc));
            assert!(!sc.description().is_empty());
        }
        let err = "all".parse::<Scenario>().unwrap_err();
        assert!(err.to_string().ends_with("skew, forgery)"), "{err}");
    }

    #[test]
    fn expect_checks_status_outcome_and_reason() {
        let reused = Expect::rejected(RejectionKind::SignatureReused);
        let ok = StatusCode::OK;
        let unauthorized = StatusCode::UNAUTHORIZED;
        assert!(reused.matches(
            unauthorized,
            br#"{"status":"rejected","reason":"signature_reused"}"#
        ));
        assert!(!reused.matches(
            unauthorized,
            br#"{"status":"rejected","reason":"invalid_signature"}"#
        ));
        assert!(!reused.matches(unauthorized, br#"{"status":"rejected"}"#));
        assert!(!Expect::RECEIVED.matches(ok, br#"{"status":"received","reason":"x"}"#));
        assert!(Expect::RECEIVED.matches(ok, br#"{"status":"received","extra":1}"#));
        assert!(!Expect::RECEIVED.matches(ok, b"[]"));
        assert_eq!(Expect::DUPLICATE.to_string(), "200 duplicate");
    }
}
