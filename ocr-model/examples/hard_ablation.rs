//! Ablation of the hard tier: which of its hardships costs the reader the most. Each row renders
//! the same held-out hard cards with one hardship eased to the photo tier's level, and reads them.
//! Run: `cargo run --release -p ocr-model --example hard_ablation -- [COUNT] [THREADS]`
//! (150 cards, 2 threads by default). With `GIVEN=1` the reader is given each card's true corners
//! (the finder left out); with `LIST=1` every refused card is listed with its code.

use ocr_model::eval;
use ocr_model::reader::KtpReader;
use ocr_model::synth::{DegradeParams, FontSet, Renderer, Split, Tier, fonts};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(150);
    let threads: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2);
    let reader = KtpReader::shipped()?;
    let hard = Tier::Hard.params();
    let photo = Tier::Photo.params();
    let variants: Vec<(&str, DegradeParams)> = vec![
        ("hard as is", hard.clone()),
        (
            "auto exposure",
            DegradeParams {
                auto_exposure: 1.0,
                ..hard.clone()
            },
        ),
        (
            "photo's light",
            DegradeParams {
                light: photo.light,
                gradient: photo.gradient,
                ..hard.clone()
            },
        ),
        (
            "photo's JPEG",
            DegradeParams {
                jpeg_quality: photo.jpeg_quality,
                ..hard.clone()
            },
        ),
        (
            "photo's noise",
            DegradeParams {
                noise_sigma: photo.noise_sigma,
                ..hard.clone()
            },
        ),
        (
            "half the blur",
            DegradeParams {
                blur_sigma: (hard.blur_sigma.0 / 2.0, hard.blur_sigma.1 / 2.0),
                ..hard.clone()
            },
        ),
        (
            "no shake",
            DegradeParams {
                motion: 0.0,
                ..hard.clone()
            },
        ),
        (
            "no glare",
            DegradeParams {
                glare: 0.0,
                ..hard.clone()
            },
        ),
        (
            "no shadow/thumb",
            DegradeParams {
                shadow: 0.0,
                thumb: 0.0,
                ..hard.clone()
            },
        ),
        (
            "photo's card size",
            DegradeParams {
                card_fill: photo.card_fill,
                ..hard.clone()
            },
        ),
    ];
    let opts = eval::Options {
        given_corners: std::env::var_os("GIVEN").is_some(),
        ..eval::Options::default()
    };
    let list = std::env::var_os("LIST").is_some();
    for (name, params) in variants {
        let set = FontSet::load(&fonts::default_font_dir(), Split::Heldout)?;
        let renderer = Renderer::new(set, Tier::Hard, 2).with_params(params);
        let res = eval::run_with(&reader, &renderer, 0, count, threads, opts)?;
        if list {
            for r in &res {
                if let Some(c) = r.refused {
                    print!("#{} {c}, ", r.index);
                }
            }
            println!();
        }
        let r = eval::summarize(Tier::Hard, &res);
        println!(
            "{name:>18}: NIK {:5.1} %, name {:5.1} %, refused {:5.1} %",
            100.0 * r.nik_exact,
            100.0 * r.name_exact,
            100.0 * r.refused as f64 / r.cards as f64
        );
        let mut codes = std::collections::BTreeMap::<&str, usize>::new();
        for c in res.iter().filter_map(|r| r.refused) {
            *codes.entry(c).or_default() += 1;
        }
        println!("{codes:?}");
    }
    Ok(())
}
