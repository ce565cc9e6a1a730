//! One request through a service in process (tower `oneshot`), and what came back.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;
use vocals_callback::{Rejection, RejectionKind, VocalsHandler, VocalsService, backend::Backend};

/// The status, the `status` field of the JSON answer, and the typed rejection if any.
pub async fn send<H: VocalsHandler, B: Backend>(
    svc: &VocalsService<H, B>,
    req: Request<Full<Bytes>>,
) -> (StatusCode, String, Option<RejectionKind>) {
    let res = svc.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let kind = res.extensions().get::<Rejection>().map(Rejection::kind);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    (status, json["status"].as_str().unwrap().to_owned(), kind)
}
