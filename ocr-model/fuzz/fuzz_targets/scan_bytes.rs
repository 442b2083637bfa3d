//! Fuzz target: arbitrary bytes uploaded as a KTP photo go through the whole reader (decode with its
//! limits, card finder, layout, recogniser, field parsing) and must never panic or hang.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ocr_model::reader::KtpReader;

static READER: OnceLock<KtpReader> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let reader = READER.get_or_init(|| KtpReader::shipped().expect("shipped model"));
    let _ = reader.read_bytes(data);
});
