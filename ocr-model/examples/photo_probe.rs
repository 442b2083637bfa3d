//! Probe: how the reader holds up on phone photos outside the photo tier's ranges (a small card in
//! a large frame, a low-resolution webcam, light of a colour the white balance left, any rotation,
//! steep perspective, portrait frames, a card on a flatbed scanner's A4 page), the same held-out
//! cards per row.
//! Run: `cargo run --release -p ocr-model --example photo_probe -- [COUNT] [THREADS] [MODEL_DIR]`
//! (100 cards, 2 threads and the shipped model by default; MODEL_DIR is a `training/train.sh`
//! output).

use ocr_model::eval;
use ocr_model::reader::KtpReader;
use ocr_model::synth::{DegradeParams, FontSet, Renderer, Split, Tier, fonts};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let threads: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2);
    let reader = match args.next() {
        Some(dir) => KtpReader::from_dir(std::path::Path::new(&dir))?,
        None => KtpReader::shipped()?,
    };
    let photo = Tier::Photo.params();
    let variants: Vec<(&str, DegradeParams)> = vec![
        ("photo as is", photo.clone()),
        (
            "card 30-45 % of 1024",
            DegradeParams {
                card_fill: (0.3, 0.45),
                ..photo.clone()
            },
        ),
        (
            "card 25-40 % of 2560",
            DegradeParams {
                frame: (2560, 1920),
                card_fill: (0.25, 0.4),
                ..photo.clone()
            },
        ),
        (
            "webcam 640x480",
            DegradeParams {
                frame: (640, 480),
                card_fill: (0.6, 0.9),
                ..photo.clone()
            },
        ),
        (
            "warm lamp, no WB",
            DegradeParams {
                // Tungsten light the white balance left: red up, blue down by a quarter or more.
                cast: [(1.05, 1.15), (0.92, 1.0), (0.6, 0.75)],
                ..photo.clone()
            },
        ),
        (
            "cold daylight, no WB",
            DegradeParams {
                cast: [(0.75, 0.85), (0.92, 1.0), (1.05, 1.15)],
                ..photo.clone()
            },
        ),
        (
            "rotated up to 45 deg",
            DegradeParams {
                max_rotation_deg: 45.0,
                ..photo.clone()
            },
        ),
        (
            "any rotation",
            DegradeParams {
                max_rotation_deg: 180.0,
                ..photo.clone()
            },
        ),
        (
            "perspective 0.15",
            DegradeParams {
                perspective: 0.15,
                ..photo.clone()
            },
        ),
        (
            "portrait frame",
            DegradeParams {
                portrait: 1.0,
                ..photo.clone()
            },
        ),
        ("A4 page, 300 dpi", a4_page(300.0)),
        ("A4 page, 150 dpi", a4_page(150.0)),
        (
            "scanner bed",
            DegradeParams {
                textured_background: false,
                ..photo.clone()
            },
        ),
    ];
    for (name, params) in variants {
        let set = FontSet::load(&fonts::default_font_dir(), Split::Heldout)?;
        let renderer = Renderer::new(set, Tier::Photo, 2).with_params(params);
        let t0 = std::time::Instant::now();
        let res = eval::run_with(
            &reader,
            &renderer,
            0,
            count,
            threads,
            eval::Options::default(),
        )?;
        let r = eval::summarize(Tier::Photo, &res);
        let mut codes = std::collections::BTreeMap::<&str, usize>::new();
        for c in res.iter().filter_map(|r| r.refused) {
            *codes.entry(c).or_default() += 1;
        }
        // Names returned sure (>= 0.9, no warning on the field) and wrong.
        let sure_wrong = res
            .iter()
            .flat_map(|c| &c.fields)
            .filter(|f| f.key == "name" && f.confidence >= 0.9 && !f.warned && !f.right)
            .count();
        println!(
            "{name:>22}: NIK {:5.1} % ({} confidently wrong), name {:5.1} % ({sure_wrong} sure and wrong), refused {:5.1} % {codes:?} ({:.1} s)",
            100.0 * r.nik_exact,
            r.confident_wrong,
            100.0 * r.name_exact,
            100.0 * r.refused as f64 / r.cards as f64,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A card on a flatbed scanner's A4 page (210 x 297 mm, portrait) at `dpi`: the card 85.6 mm wide,
/// 41 % of the page's width, with the scan tier's light, blur and JPEG.
fn a4_page(dpi: f32) -> DegradeParams {
    let px = |mm: f32| (mm / 25.4 * dpi).round() as u32;
    DegradeParams {
        frame: (px(297.0), px(210.0)),
        portrait: 1.0,
        card_fill: (0.4, 0.42),
        max_rotation_deg: 3.0,
        ..Tier::Scan.params()
    }
}
