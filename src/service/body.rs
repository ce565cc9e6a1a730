//! Reading the body: bounded in size and in time.

use std::{error::Error as StdError, pin::pin, time::Duration};

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::future::now_or_never;
use crate::rejection::{Rejection, RejectionKind};

/// Reads the whole body, at most `limit` bytes, within `deadline`. The flag is `true`
/// when the read had to wait for the client.
///
/// The timer is armed only when the body is not all there at once: a body that is already
/// in memory (hyper's for a small request, `Full` in tests) costs no timer registration.
pub(crate) async fn read<B>(
    body: B,
    limit: usize,
    deadline: Duration,
) -> Result<(Bytes, bool), Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let mut collect = pin!(collect(Limited::new(body, limit)));
    let (result, waited) = match now_or_never(collect.as_mut()).await {
        Some(result) => (result, false),
        // Boxed: the timer lives on the slow path only, not in every request's future.
        None => match Box::pin(tokio::time::timeout(deadline, collect)).await {
            Ok(result) => (result, true),
            Err(_) => return Err(RejectionKind::BodyTimeout.into()),
        },
    };
    result.map(|bytes| (bytes, waited)).map_err(|err| {
        if err.is::<LengthLimitError>() {
            RejectionKind::BodyTooLarge.into()
        } else {
            RejectionKind::BodyUnreadable.into()
        }
    })
}

/// Concatenates the data frames (trailers are ignored). A body of one frame, the common
/// case, is passed on without a copy.
async fn collect<B>(body: B) -> Result<Bytes, B::Error>
where
    B: Body,
{
    let mut body = pin!(body);
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(mut data) = frame?.into_data() else {
            continue;
        };
        if first.is_none() && rest.is_empty() {
            first = Some(data.copy_to_bytes(data.remaining()));
            continue;
        }
        if let Some(head) = first.take() {
            rest.extend_from_slice(&head);
        }
        while data.has_remaining() {
            let chunk = data.chunk();
            rest.extend_from_slice(chunk);
            let n = chunk.len();
            data.advance(n);
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}
