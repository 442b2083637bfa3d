//! Fuzz target: arbitrary pixels (past the decoder, where most inputs die) go through the card
//! finder, layout, recogniser and field parsing, and must never panic or hang.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ocr_model::reader::KtpReader;

static READER: OnceLock<KtpReader> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let reader = READER.get_or_init(|| KtpReader::shipped().expect("shipped model"));
    // The first bytes choose the size; the rest, repeated, are the pixels.
    let w = 240 + u32::from(data[0]) * 4;
    let h = 240 + u32::from(data[1]) * 3;
    let body = &data[2..];
    let pixels: Vec<u8> = body.iter().copied().cycle().take((w * h * 3) as usize).collect();
    if let Some(img) = image::RgbImage::from_raw(w, h, pixels) {
        let _ = reader.read_image(&img);
    }
});
