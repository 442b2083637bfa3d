//! Looks at what the reader's geometry does on rendered cards: corner error of the card finder
//! against the ground truth (in card millimetres), the lines found, and a picture of the rectified
//! card with its line boxes (`--draw DIR`).
//!
//! ```text
//! cargo run --release -p ocr-model --example ktp_layout -- DATASET_DIR [--draw OUT_DIR]
//! ```
//! DATASET_DIR is a `render-ktp` output (images and `labels.jsonl`). `--candidates` prints every
//! mask's candidate; `--detect-only` skips the layout (faster, corner errors and finder time only);
//! `--repeat N` runs the finder N times per photo and counts the fastest run (steadier timings on
//! a busy machine); `--candidate K` lays out the K-th of the finder's candidates scoring at least
//! `detect::MIN_SCORE` (from 0) instead of its best one, as the reader does when the best fails.

use std::path::PathBuf;

use image::{Luma, Rgb, RgbImage};
use ocr_model::{detect, geom, layout, reader};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(&args[1]);
    let draw = args
        .iter()
        .position(|a| a == "--draw")
        .map(|i| PathBuf::from(&args[i + 1]));
    if let Some(d) = &draw {
        std::fs::create_dir_all(d).expect("draw dir");
    }
    let labels = std::fs::read_to_string(dir.join("labels.jsonl")).expect("labels");
    let detect_only = args.iter().any(|a| a == "--detect-only");
    let repeat: usize = args
        .iter()
        .position(|a| a == "--repeat")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1)
        .max(1);
    let candidate: Option<usize> = args
        .iter()
        .position(|a| a == "--candidate")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    let (mut n, mut missed, mut errs) = (0, 0, Vec::new());
    let mut detect_time = std::time::Duration::ZERO;
    for line in labels.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let file = v["file"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(file)).expect("image");
        let img = reader::decode(&bytes).expect("decode");
        n += 1;
        let truth: Vec<[f32; 2]> = v["corners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| [p[0].as_f64().unwrap() as f32, p[1].as_f64().unwrap() as f32])
            .collect();
        if args.iter().any(|a| a == "--candidates") {
            for (name, c) in detect::candidates(&img, true) {
                let e = (0..4)
                    .map(|i| geom::dist(c.corners[i], truth[i]))
                    .fold(0.0f32, f32::max);
                println!(
                    "  {name}: score {:.2} worst {:.1} px {:?}",
                    c.score, e, c.corners
                );
            }
            println!("  truth {truth:?}");
        }
        let mut fastest = std::time::Duration::MAX;
        let mut found = None;
        for _ in 0..repeat {
            let t0 = std::time::Instant::now();
            found = match candidate {
                Some(k) => detect::candidates(&img, true)
                    .into_iter()
                    .map(|(_, c)| c)
                    .filter(|c| c.score >= detect::MIN_SCORE)
                    .nth(k),
                None => detect::find_card(&img),
            };
            fastest = fastest.min(t0.elapsed());
        }
        detect_time += fastest;
        let Some(card) = found else {
            missed += 1;
            println!("{file}: no card");
            continue;
        };
        let px_per_mm = geom::dist(truth[0], truth[1]) / 85.6;
        let err = (0..4)
            .map(|i| geom::dist(card.corners[i], truth[i]))
            .fold(0.0f32, f32::max)
            / px_per_mm;
        errs.push(err);
        if detect_only {
            println!(
                "{file}: score {:.2}, worst corner {:.2} mm",
                card.score, err
            );
            continue;
        }
        let pyr = layout::Pyramid::new(reader::to_gray(&img));
        let mut rect = layout::rectify(&pyr, &card.corners, false).expect("rectify");
        let flip = layout::looks_upside_down(&rect);
        if flip {
            rect = layout::rectify(&pyr, &card.corners, true).expect("rectify");
        }
        let ink = layout::Ink::new(&rect.image);
        let lines = layout::find_lines(&ink);
        let keys: Vec<&str> = lines
            .as_ref()
            .map(|l| l.iter().map(|b| b.key).collect())
            .unwrap_or_default();
        println!(
            "{file}: score {:.2}, worst corner {:.2} mm, flip {flip}, contrast {:.0}, glare {:.2}, lines {:?} {}",
            card.score,
            err,
            ink.contrast,
            layout::glare_on_nik(&rect.image),
            lines.as_ref().err(),
            keys.join(",")
        );
        if let Some(d) = &draw {
            for (k, b) in lines.iter().flatten().enumerate() {
                let crop = layout::cut(&pyr, &rect, b.rect, 32);
                let _ =
                    crop.save(d.join(format!("{}_{k:02}_{}.png", file.replace(".jpg", ""), b.key)));
            }
            let mut out = RgbImage::from_fn(rect.image.width(), rect.image.height(), |x, y| {
                let Luma([g]) = *rect.image.get_pixel(x, y);
                Rgb([g, g, g])
            });
            for b in lines.iter().flatten() {
                let s = layout::PX_PER_MM;
                let [x0, y0, x1, y1] = b.rect.map(|v| (v * s).max(0.0) as u32);
                for x in x0..x1.min(out.width()) {
                    for y in [y0, y1.min(out.height() - 1)] {
                        out.put_pixel(x, y.min(out.height() - 1), Rgb([255, 0, 0]));
                    }
                }
                for y in y0..y1.min(out.height()) {
                    for x in [x0, x1.min(out.width() - 1)] {
                        out.put_pixel(x.min(out.width() - 1), y, Rgb([255, 0, 0]));
                    }
                }
            }
            out.save(d.join(file.replace(".jpg", ".png")))
                .expect("save");
        }
    }
    errs.sort_by(f32::total_cmp);
    let med = errs.get(errs.len() / 2).copied().unwrap_or(f32::NAN);
    let p90 = errs.get(errs.len() * 90 / 100).copied().unwrap_or(f32::NAN);
    let p95 = errs.get(errs.len() * 95 / 100).copied().unwrap_or(f32::NAN);
    let over = |mm: f32| errs.iter().filter(|&&e| e > mm).count();
    println!(
        "{n} cards, {missed} without a card found; worst-corner error median {med:.2} mm, p90 {p90:.2} mm, p95 {p95:.2} mm, > 1 mm {}, > 5 mm {}; find_card {:.2} ms mean",
        over(1.0),
        over(5.0),
        detect_time.as_secs_f64() * 1000.0 / f64::from(n.max(1))
    );
}
