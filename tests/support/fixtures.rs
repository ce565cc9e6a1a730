//! The callback and `record_info` bodies the property tests start from: this crate's
//! fixtures and the provider's own samples. Included alone by `props.rs` and
//! `prop_parse.rs`, which need no feature.

pub(crate) const CALLBACKS: [&[u8]; 13] = [
    include_bytes!("../fixtures/bodies/complete.json"),
    include_bytes!("../fixtures/bodies/complete_lyrics.json"),
    include_bytes!("../fixtures/bodies/failed.json"),
    include_bytes!("../fixtures/bodies/first.json"),
    include_bytes!("../fixtures/bodies/text.json"),
    include_bytes!("../fixtures/upstream/callback_complete_addvocals_kie_en.json"),
    include_bytes!("../fixtures/upstream/callback_complete_addvocals_sunoapi_en.json"),
    include_bytes!("../fixtures/upstream/callback_complete_generate_sunoapi_en.json"),
    include_bytes!("../fixtures/upstream/callback_error_addvocals_kie_en.json"),
    include_bytes!("../fixtures/upstream/callback_error_addvocals_sunoapi_en.json"),
    include_bytes!("../fixtures/upstream/callback_error_uploadcover_kie_en.json"),
    include_bytes!("../fixtures/upstream/callback_first_addvocals_kie_en.json"),
    include_bytes!("../fixtures/upstream/callback_text_addvocals_kie_en.json"),
];

pub(crate) const RECORD_INFOS: [&[u8]; 2] = [
    include_bytes!("../fixtures/upstream/recordinfo_success_kie_en.json"),
    include_bytes!("../fixtures/upstream/recordinfo_success_sunoapi_en.json"),
];
