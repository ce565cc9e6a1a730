//! Reading the body: bounded in size and in time.

use std::{error::Error as StdError, time::Duration};

use bytes::Bytes;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::rejection::{Rejection, RejectionKind};

/// Reads the whole body, at most `limit` bytes, within `deadline`.
///
/// For a body whose bytes are already there (`Full`), no timer is armed: the read is
/// complete on the first poll.
pub(crate) async fn read<B>(body: B, limit: usize, deadline: Duration) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    match tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.is::<LengthLimitError>() => Err(RejectionKind::BodyTooLarge.into()),
        Ok(Err(_)) => Err(RejectionKind::BodyUnreadable.into()),
        Err(_) => Err(RejectionKind::BodyTimeout.into()),
    }
}
