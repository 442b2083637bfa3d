//! `render-ktp`: writes a dataset of synthetic e-KTP images with labels, optionally with line crops
//! for recogniser training.
//!
//! ```text
//! render-ktp --out DIR --count N --seed S --tier scan|photo|hard|unreadable|closeup|copy|webcam --fonts train|heldout [--lines]
//! ```
//! Writes `DIR/NNNNNN.jpg` (`.png` for the lossless scan tier) and `DIR/labels.jsonl` (one JSON object
//! per image: fields, line quads and texts, card corners). With `--lines` also
//! `DIR/lines/NNNNNN_KK.png` (straightened grey crops, height 32) and `DIR/lines.tsv`
//! (`file<TAB>text`).

use std::error::Error;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ocr_model::synth::{FontSet, Names, Renderer, Split, Tier, fonts};

#[derive(Debug, Parser)]
#[command(about = "Render synthetic e-KTP cards with ground truth")]
struct Args {
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Number of cards.
    #[arg(long, default_value_t = 100)]
    count: u64,
    /// Seed; with the tier and font split it fixes every byte of the output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Index of the first card (to extend a dataset or split work).
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// scan, photo or hard.
    #[arg(long, default_value = "photo")]
    tier: Tier,
    /// train or heldout.
    #[arg(long, default_value = "train")]
    fonts: Split,
    /// Where names come from: lists (the common-name lists), wide (what training uses: the lists,
    /// register words, made-up syllables over every letter) or heldout (lists sharing no word with
    /// the others).
    #[arg(long, default_value = "lists")]
    names: Names,
    /// Also write straightened line crops and lines.tsv.
    #[arg(long)]
    lines: bool,
    /// Height of line crops in pixels.
    #[arg(long, default_value_t = 32)]
    line_height: u32,
    /// Fonts directory (default: the crate's fonts/).
    #[arg(long)]
    font_dir: Option<PathBuf>,
    /// Also write `preview/NNNNNN.png` (the decoded image, lossless, for viewers without JPEG) and
    /// `preview/NNNNNN_boxes.png` (with line boxes and card corners drawn).
    #[arg(long)]
    preview: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

/// What one worker hands back for one card: its index, JSON label line and lines.tsv rows.
type Rendered = (u64, String, Vec<String>);

fn render_one(
    r: &Renderer,
    args: &Args,
    index: u64,
) -> Result<Rendered, Box<dyn Error + Send + Sync>> {
    let mut sample = r.render(index)?;
    let (bytes, ext) = sample.file_bytes()?;
    let name = format!("{index:06}.{ext}");
    fs::write(args.out.join(&name), bytes)?;
    sample.label.file = name;
    if args.preview {
        sample
            .image
            .save(args.out.join(format!("preview/{index:06}.png")))?;
        let mut img = sample.image.clone();
        for line in &sample.label.lines {
            outline(&mut img, &line.quad, [255, 0, 0]);
        }
        outline(&mut img, &sample.label.corners, [0, 200, 0]);
        img.save(args.out.join(format!("preview/{index:06}_boxes.png")))?;
    }
    let mut rows = Vec::new();
    if args.lines {
        // A separate stream so crops do not change the image for a given seed.
        let mut rng = r.rng(index ^ (1 << 63));
        for (k, line) in sample.label.lines.iter().enumerate() {
            if line.key == "label" {
                continue; // The labels are fixed words; the recogniser needs the values.
            }
            let Some(crop) = sample.line_crop(k, args.line_height, 0.08, 1.2, &mut rng) else {
                continue;
            };
            let file = format!("lines/{index:06}_{k:02}.png");
            crop.save(args.out.join(&file))?;
            rows.push(format!("{file}\t{}", line.text));
        }
    }
    Ok((index, serde_json::to_string(&sample.label)?, rows))
}

fn run(args: &Args) -> Result<(), Box<dyn Error + Send + Sync>> {
    let dir = args
        .font_dir
        .clone()
        .unwrap_or_else(fonts::default_font_dir);
    let set = FontSet::load(&dir, args.fonts)?;
    // Decoding the JPEG back is only needed to cut line crops or draw previews from it.
    let renderer = Renderer::new(set, args.tier, args.seed)
        .with_decode(args.lines || args.preview)
        .with_names(args.names);
    fs::create_dir_all(&args.out)?;
    if args.lines {
        fs::create_dir_all(args.out.join("lines"))?;
    }
    if args.preview {
        fs::create_dir_all(args.out.join("preview"))?;
    }
    let mut labels = BufWriter::new(File::create(args.out.join("labels.jsonl"))?);
    let mut tsv = if args.lines {
        Some(BufWriter::new(File::create(args.out.join("lines.tsv"))?))
    } else {
        None
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = Instant::now();
    let end = args.start + args.count;
    let batch = 32 * threads as u64;
    let mut next = args.start;
    while next < end {
        let stop = (next + batch).min(end);
        let mut results: Vec<Rendered> = Vec::with_capacity((stop - next) as usize);
        std::thread::scope(|scope| -> Result<(), Box<dyn Error + Send + Sync>> {
            let handles: Vec<_> = (0..threads as u64)
                .map(|t| {
                    let renderer = &renderer;
                    scope.spawn(move || {
                        (next + t..stop)
                            .step_by(threads)
                            .map(|i| render_one(renderer, args, i))
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            for h in handles {
                results.extend(h.join().map_err(|_| "a render thread panicked")??);
            }
            Ok(())
        })?;
        results.sort_by_key(|r| r.0);
        for (_, json, rows) in results {
            writeln!(labels, "{json}")?;
            if let Some(t) = tsv.as_mut() {
                for row in rows {
                    writeln!(t, "{row}")?;
                }
            }
        }
        next = stop;
    }
    labels.flush()?;
    if let Some(t) = tsv.as_mut() {
        t.flush()?;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "rendered {} cards in {secs:.1} s ({:.0} cards/min, {threads} threads) into {}",
        args.count,
        args.count as f64 / secs.max(1e-9) * 60.0,
        display(&args.out)
    );
    Ok(())
}

/// Draws the edges of a quadrilateral one pixel wide.
fn outline(img: &mut image::RgbImage, q: &[[f32; 2]; 4], color: [u8; 3]) {
    for i in 0..4 {
        let (a, b) = (q[i], q[(i + 1) % 4]);
        let steps = (a[0] - b[0]).abs().max((a[1] - b[1]).abs()).ceil().max(1.0) as u32;
        for k in 0..=steps {
            let t = k as f32 / steps as f32;
            let (x, y) = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t);
            if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
                img.put_pixel(x as u32, y as u32, image::Rgb(color));
            }
        }
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("render-ktp: {e}");
            let mut src = e.source();
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
