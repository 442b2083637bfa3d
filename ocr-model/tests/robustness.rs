//! Whatever arrives as a "photo" (random bytes, damaged card files, random pixels, extreme sizes),
//! the reader answers with fields or a refusal: it never panics. (The fuzz targets in
//! `ocr-model/fuzz` search the same space for longer.)

use std::sync::OnceLock;

use image::RgbImage;
use ocr_model::reader::{KtpReader, Refusal, ScanError};
use ocr_model::synth::{FontSet, Renderer, Split, Tier, fonts};
use proptest::prelude::*;

fn reader() -> &'static KtpReader {
    static R: OnceLock<KtpReader> = OnceLock::new();
    R.get_or_init(|| KtpReader::shipped().expect("shipped model"))
}

fn card_jpeg() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        let fonts = FontSet::load(&fonts::default_font_dir(), Split::Heldout).expect("fonts");
        let s = Renderer::new(fonts, Tier::Photo, 77)
            .render(0)
            .expect("render");
        s.file_bytes().expect("bytes").0
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_refused_as_not_an_image(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let r = reader().read_bytes(&data);
        prop_assert!(matches!(r, Err(ScanError::Refused(_))), "{r:?}");
    }

    #[test]
    fn a_damaged_card_file_never_panics(cut in 0usize..60_000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..40)) {
        let mut data = card_jpeg().to_vec();
        for (at, v) in flips {
            let i = at % data.len();
            data[i] ^= v;
        }
        data.truncate(cut.min(data.len()));
        let _ = reader().read_bytes(&data);
    }

    #[test]
    fn random_pixels_never_panic(w in 1u32..700, h in 1u32..500, seed in any::<u64>()) {
        let mut x = seed | 1;
        let pixels: Vec<u8> = (0..w * h * 3).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x as u8 }).collect();
        let img = RgbImage::from_raw(w, h, pixels).expect("size");
        let r = reader().read_image(&img);
        if w.min(h) < 240 {
            prop_assert!(matches!(r, Err(ScanError::Refused(Refusal::ImageTooSmall))), "{r:?}");
        }
    }
}

/// The case proptest found on 2026-12-06 (also in `robustness.proptest-regressions`): one byte
/// flipped and the file cut short left a layout with six keyed rows and no value print in any,
/// and the cap height was taken of no rows (an index out of bounds in `layout::find_lines`).
#[test]
fn a_card_cut_short_with_rows_but_no_values_is_answered() {
    let mut data = card_jpeg().to_vec();
    let at = (1_867_976_291_650_916_336usize) % data.len();
    data[at] ^= 196;
    data.truncate(8413);
    // Read or refused: either is an answer; a panic or a fault of the reader is not.
    let r = reader().read_bytes(&data);
    assert!(!matches!(r, Err(ScanError::Recognizer(_))), "{r:?}");
}

#[test]
fn flat_and_striped_images_are_not_ktps() {
    let flat = RgbImage::from_pixel(800, 600, image::Rgb([200, 220, 230]));
    assert!(matches!(
        reader().read_image(&flat),
        Err(ScanError::Refused(_))
    ));
    let mut stripes = RgbImage::new(800, 600);
    for (x, _, p) in stripes.enumerate_pixels_mut() {
        *p = if (x / 20) % 2 == 0 {
            image::Rgb([255, 255, 255])
        } else {
            image::Rgb([0, 0, 0])
        };
    }
    assert!(matches!(
        reader().read_image(&stripes),
        Err(ScanError::Refused(_))
    ));
}

#[test]
fn the_undamaged_card_is_read() {
    let scan = reader().read_bytes(card_jpeg()).expect("read");
    assert_eq!(scan.reading.fields.nik.value.len(), 16);
}

/// A card photographed turned a quarter or half a turn (a phone held the other way, a file whose
/// EXIF orientation the reader does not apply) is read from its print the same as upright.
#[test]
fn a_card_turned_any_quarter_is_read_the_same() {
    let upright = reader().read_bytes(card_jpeg()).expect("read");
    let img = image::load_from_memory(card_jpeg())
        .expect("jpeg")
        .to_rgb8();
    for (turn, turned) in [
        (90, image::imageops::rotate90(&img)),
        (180, image::imageops::rotate180(&img)),
        (270, image::imageops::rotate270(&img)),
    ] {
        let scan = reader().read_image(&turned).expect("read");
        assert_eq!(
            scan.reading.fields.nik.value, upright.reading.fields.nik.value,
            "turned {turn}"
        );
        assert_eq!(
            scan.reading.fields.name.value, upright.reading.fields.name.value,
            "turned {turn}"
        );
    }
}

/// A page of print that is not a KTP (a letter, a form) gives the guesses around a print
/// (`layout::Print::box_guesses`) something to lay out, but no KTP reading: it is refused.
#[test]
fn a_page_of_print_that_is_not_a_ktp_is_refused() {
    for (w, h) in [(1024u32, 768u32), (768, 1024)] {
        let page = RgbImage::from_fn(w, h, |x, y| {
            // Lines of words: 9 px high every 24 px, words 30-70 px long, 12 px apart.
            let (row, col) = (y % 24, (x * 7 + (y / 24) * 13) % 97);
            let inside = x > 80 && x < w - 80 && y > 90 && y < h - 120;
            if inside && row < 9 && col < 70 && (x / 9 + y / 24) % 11 != 0 {
                image::Rgb([30, 30, 30])
            } else {
                image::Rgb([250, 250, 248])
            }
        });
        let r = reader().read_image(&page);
        assert!(matches!(r, Err(ScanError::Refused(_))), "{w}x{h}: {r:?}");
    }
}
