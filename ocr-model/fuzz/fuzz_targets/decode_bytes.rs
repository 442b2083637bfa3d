//! Fuzz target: arbitrary bytes through the photo decoder alone, as a photo is decoded for reading
//! (a large JPEG at a reduced size by the scaling decoder, everything else at full size): never a
//! panic, a hang or an allocation past the limits, and what comes back is within them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocr_model::reader::{MAX_PIXELS, REDUCE_FROM, decode_reduced};

fuzz_target!(|data: &[u8]| {
    if let Ok((img, factor)) = decode_reduced(data) {
        let (w, h) = (u64::from(img.width()), u64::from(img.height()));
        assert!(w > 0 && h > 0);
        assert!(matches!(factor, 1 | 2 | 4), "factor {factor}");
        let f = u64::from(factor);
        // The header's size, rounded up by the scaling.
        assert!((w - 1) * f * (h - 1) * f <= MAX_PIXELS, "{w} x {h} at 1/{factor}");
        if factor > 1 {
            assert!(w.max(h) * f + f > u64::from(REDUCE_FROM), "{w} x {h} at 1/{factor}");
        }
    }
});
