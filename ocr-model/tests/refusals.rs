//! Photos that cannot be read honestly are refused with the right reason, and a card held upside
//! down or sideways is still read: each case is made from a rendered held-out card by a plain image operation.

use std::sync::OnceLock;

use image::{Rgb, RgbImage, imageops};
use ocr_model::reader::{KtpReader, Refusal, ScanError, decode_reduced};
use ocr_model::synth::{FontSet, Renderer, Sample, Split, Tier, fonts};
use ocr_model::{geom, layout};

fn reader() -> &'static KtpReader {
    static R: OnceLock<KtpReader> = OnceLock::new();
    R.get_or_init(|| KtpReader::shipped().expect("shipped model"))
}

fn card(tier: Tier, index: u64) -> Sample {
    let fonts = FontSet::load(&fonts::default_font_dir(), Split::Heldout).expect("fonts");
    Renderer::new(fonts, tier, 11)
        .render(index)
        .expect("render")
}

fn refusal(img: &RgbImage) -> Option<Refusal> {
    match reader().read_image(img) {
        Err(ScanError::Refused(r)) => Some(r),
        Err(e) => panic!("reader failed: {e}"),
        Ok(_) => None,
    }
}

#[test]
fn a_card_is_read_upright_and_upside_down() {
    let s = card(Tier::Scan, 1);
    let upright = reader().read_image(&s.image).expect("upright read");
    let turned = reader()
        .read_image(&imageops::rotate180(&s.image))
        .expect("upside-down read");
    assert_eq!(upright.reading.fields.nik.value, s.label.fields.nik);
    assert_eq!(turned.reading.fields.nik.value, s.label.fields.nik);
    assert!(turned.quality.upside_down && !upright.quality.upside_down);
}

/// A shadow over the card's left end, where its photo would be if it were upside down, makes the
/// photo-side test take the card as turned (the reading then makes no sense); the reader tries the
/// card the other way round and keeps the reading that does.
#[test]
fn a_shadow_where_the_photo_would_be_turned_does_not_turn_the_card() {
    let s = card(Tier::Scan, 6);
    // The card's millimetres (from its top left) to the photo's pixels.
    let card = geom::rect_quad(0.0, 0.0, layout::CARD_MM[0], layout::CARD_MM[1]);
    let to_photo = geom::Homography::from_quads(&card, &s.label.corners).expect("card corners");
    let at = |u: f32, v: f32| to_photo.apply([u, v]);
    let mut img = s.image.clone();
    // Darken everything within the first 24 mm from the left edge, below the NIK (18 mm down).
    let (a, b) = (at(0.0, 18.0), at(24.0, 54.0));
    for (x, y, p) in img.enumerate_pixels_mut() {
        if (a[0]..b[0]).contains(&(x as f32)) && (a[1]..b[1]).contains(&(y as f32)) {
            p.0 = p.0.map(|v| (f32::from(v) * SHADOW) as u8);
        }
    }
    let scan = reader().read_image(&img).expect("shadowed read");
    assert!(!scan.quality.upside_down, "{:?}", scan.quality);
    assert_eq!(scan.reading.fields.nik.value, s.label.fields.nik);
    assert_eq!(scan.reading.fields.name.value, s.label.fields.name);
}

/// How much of the light the shadow leaves.
const SHADOW: f32 = 0.3;

#[test]
fn a_card_turned_sideways_is_read() {
    // A portrait phone photo of a landscape card: the card lies at 90 degrees either way.
    let s = card(Tier::Photo, 3);
    for img in [imageops::rotate90(&s.image), imageops::rotate270(&s.image)] {
        let scan = reader().read_image(&img).expect("sideways read");
        assert_eq!(scan.reading.fields.nik.value, s.label.fields.nik);
        assert_eq!(scan.reading.fields.name.value, s.label.fields.name);
    }
}

#[test]
fn a_dark_photo_is_refused_as_too_dark() {
    let mut img = card(Tier::Photo, 2).image;
    for p in img.pixels_mut() {
        p.0 = p.0.map(|v| (f32::from(v) * 0.12) as u8);
    }
    assert_eq!(refusal(&img), Some(Refusal::TooDark));
}

#[test]
fn a_heavily_blurred_photo_is_refused_as_too_blurred() {
    let img = imageops::blur(&card(Tier::Photo, 3).image, 7.0);
    assert_eq!(refusal(&img), Some(Refusal::TooBlurred));
}

#[test]
fn glare_over_the_nik_is_refused() {
    let s = card(Tier::Scan, 4);
    let mut img = s.image.clone();
    let nik = s
        .label
        .lines
        .iter()
        .find(|l| l.key == "nik")
        .expect("nik line");
    let (x0, x1) = (
        nik.quad[0][0].min(nik.quad[3][0]),
        nik.quad[1][0].max(nik.quad[2][0]),
    );
    let (y0, y1) = (
        nik.quad[0][1].min(nik.quad[1][1]),
        nik.quad[2][1].max(nik.quad[3][1]),
    );
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let (rx, ry) = ((x1 - x0) * 0.45, (y1 - y0) * 1.2);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let d = ((x as f32 - cx) / rx).powi(2) + ((y as f32 - cy) / ry).powi(2);
        if d < 1.0 {
            *p = Rgb([255, 255, 255]);
        }
    }
    assert_eq!(refusal(&img), Some(Refusal::GlareOnNik));
}

#[test]
fn a_far_away_card_is_refused_as_too_small() {
    let img = card(Tier::Photo, 5).image;
    let small = imageops::resize(
        &img,
        300,
        300 * img.height() / img.width(),
        imageops::FilterType::Triangle,
    );
    assert_eq!(refusal(&small), Some(Refusal::ImageTooSmall));
    // A big photo with a small card in it.
    let mut big = RgbImage::from_pixel(1600, 1200, Rgb([70, 50, 40]));
    imageops::overlay(&mut big, &small, 650, 500);
    assert_eq!(refusal(&big), Some(Refusal::ImageTooSmall));
}

#[test]
fn a_small_card_in_a_large_phone_photo_is_read_at_full_size() {
    // A 12-megapixel JPEG whose card is about 560 pixels wide: at the half size a large JPEG is
    // first decoded at, the card is too small to find or read; the reader then decodes it at full
    // size.
    let s = card(Tier::Scan, 4);
    let w = 600;
    let scaled = imageops::resize(
        &s.image,
        w,
        w * s.image.height() / s.image.width(),
        imageops::FilterType::CatmullRom,
    );
    let mut photo = RgbImage::from_pixel(4000, 3000, Rgb([92, 70, 55]));
    imageops::overlay(&mut photo, &scaled, 1700, 1300);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
        .encode_image(&photo)
        .expect("encode");
    let (reduced, factor) = decode_reduced(&jpeg).expect("decodes");
    assert_eq!((factor, reduced.width()), (2, 2000));
    assert!(matches!(
        refusal(&reduced),
        Some(Refusal::ImageTooSmall | Refusal::NotAKtp)
    ));
    let scan = reader().read_bytes(&jpeg).expect("read at full size");
    assert_eq!(scan.reading.fields.nik.value, s.label.fields.nik);
    assert_eq!(scan.reading.fields.name.value, s.label.fields.name);
}

#[test]
fn a_card_shaped_thing_without_the_layout_is_not_a_ktp() {
    // A light card with a few dark bars on a dark desk: card-shaped, but no KTP rows.
    let mut img = RgbImage::from_pixel(1000, 750, Rgb([40, 35, 30]));
    for y in 150..600 {
        for x in 140..860 {
            img.put_pixel(x, y, Rgb([225, 228, 230]));
        }
    }
    for y in 300..330 {
        for x in 200..700 {
            img.put_pixel(x, y, Rgb([30, 30, 30]));
        }
    }
    assert_eq!(refusal(&img), Some(Refusal::NotAKtp));
    assert_eq!(
        refusal(&RgbImage::from_pixel(800, 600, Rgb([128, 128, 128]))),
        Some(Refusal::NotAKtp)
    );
}
