//! What a claim hands to a dispatcher.

use bytes::Bytes;

use crate::{
    dedup::{ClaimToken, DedupKey},
    delivery::Delivery,
    event::{Stage, VocalsEvent},
};

/// A claimed event and everything a dispatcher needs to run it, store it or give it back:
/// the event, its dedup key and claim token (to complete or release the claim), the
/// verified body exactly as received (so a durable queue can store it and parse it again;
/// `None` for a polled event) and the delivery's facts.
pub(super) struct Job {
    pub(super) event: VocalsEvent,
    pub(super) key: OwnedKey,
    pub(super) token: ClaimToken,
    pub(super) body: Option<Bytes>,
    pub(super) delivery: Delivery,
}

/// A dedup key that outlives the event (which moves into the handler). Task ids up to 64
/// bytes (the provider's are 32) are kept inline: no allocation per request.
#[derive(Clone, Debug)]
pub(super) struct OwnedKey {
    task_id: TaskId,
    stage: Stage,
    unknown_type: Option<Box<str>>,
}

#[derive(Clone, Debug)]
enum TaskId {
    Inline { len: u8, bytes: [u8; 64] },
    Heap(Box<str>),
}

impl OwnedKey {
    pub(super) fn new(key: &DedupKey<'_>) -> Self {
        let id = key.task_id();
        let task_id = match u8::try_from(id.len()) {
            Ok(len) if usize::from(len) <= 64 => {
                let mut bytes = [0u8; 64];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                TaskId::Inline { len, bytes }
            }
            _ => TaskId::Heap(id.into()),
        };
        Self {
            task_id,
            stage: key.stage(),
            unknown_type: (key.stage() == Stage::Unknown).then(|| key.unknown_type().into()),
        }
    }

    pub(super) fn key(&self) -> DedupKey<'_> {
        let key = DedupKey::new(self.task_id(), self.stage);
        match &self.unknown_type {
            Some(unknown) => key.with_unknown_type(unknown),
            None => key,
        }
    }

    pub(super) fn task_id(&self) -> &str {
        match &self.task_id {
            // Copied whole from a `&str`, so always UTF-8; the fallback is unreachable.
            TaskId::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            TaskId::Heap(id) => id,
        }
    }

    pub(super) fn stage(&self) -> Stage {
        self.stage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_the_event_inline_or_on_the_heap() {
        let long = "x".repeat(200);
        for id in ["65e563474bd7b6485dfb229eb92324a8", long.as_str(), ""] {
            let owned = OwnedKey::new(&DedupKey::new(id, Stage::Complete));
            assert_eq!(owned.key(), DedupKey::new(id, Stage::Complete));
        }
        let unknown = DedupKey::new("t", Stage::Unknown).with_unknown_type("remix");
        assert_eq!(OwnedKey::new(&unknown).key(), unknown);
    }
}
