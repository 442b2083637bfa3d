//! `ktp-eval`: scores the reader on freshly rendered held-out cards, per tier, and prints the
//! report (NIK and name exact, CER per field, refusals, confidently wrong NIKs, time per card).
//!
//! ```text
//! ktp-eval [--count 300] [--seed 2] [--tiers scan,photo,hard] [--threads 1] [--model DIR] [--misses]
//!          [--lines] [--given-corners] [--timings] [--resize 4000] [--dump FILE]
//!          [--names heldout] [--second-model DIR | --no-second]
//! ```
//! Tiers: scan, photo, hard (the accuracy targets), unreadable (to be refused or flagged),
//! closeup (the card's corners outside the photo), copy (a photocopy: no edge of the card) and
//! webcam (a 640 x 480 kiosk camera: small text).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use ocr_model::eval;
use ocr_model::reader::KtpReader;
use ocr_model::recognizer::Recognizer;
use ocr_model::synth::{FontSet, Names, Renderer, Split, Tier, fonts};

#[derive(Debug, Parser)]
#[command(about = "Score the KTP reader on rendered held-out cards")]
struct Args {
    /// Cards per tier.
    #[arg(long, default_value_t = 300)]
    count: u64,
    /// Render seed (training used 1).
    #[arg(long, default_value_t = 2)]
    seed: u64,
    /// First card index.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Tiers, comma separated.
    #[arg(long, default_value = "scan,photo,hard", value_delimiter = ',')]
    tiers: Vec<Tier>,
    /// Font split (held-out by default: faces the model never saw).
    #[arg(long, default_value = "heldout")]
    fonts: Split,
    /// Where the cards' names come from: lists (the common-name lists, the default), wide (the
    /// training mix) or heldout (lists sharing no word with any training name).
    #[arg(long, default_value = "lists")]
    names: Names,
    /// Reading threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// A model directory from `training/train.sh` instead of the shipped models (its `names/`,
    /// if there, is the second opinion on names).
    #[arg(long)]
    model: Option<std::path::PathBuf>,
    /// Print every card whose NIK or name was missed, with what was read.
    #[arg(long)]
    misses: bool,
    /// Print where the time went (mean per stage over the read cards).
    #[arg(long)]
    timings: bool,
    /// Give the reader each card's true corners (skips the card finder, to score the rest alone).
    #[arg(long)]
    given_corners: bool,
    /// Resample every photo to this long side (pixels; 4000 for a 12-megapixel phone photo) and
    /// save it as a JPEG of quality 92 before reading it.
    #[arg(long)]
    resize: Option<u32>,
    /// Mirror every photo left to right (as a webcam or front camera that saves its preview
    /// does), saved lossless, before reading it.
    #[arg(long, conflicts_with_all = ["resize", "given_corners"])]
    mirror: bool,
    /// Print, per printed line, the share of cards on which it was read exactly.
    #[arg(long)]
    lines: bool,
    /// Print every card's reading as JSON (as `clinic-node ocr --json` does), with the truth.
    #[arg(long)]
    show: bool,
    /// Write every returned field to this TSV file (tier, card, key, confidence, warned, right),
    /// to study how well the confidences tell right readings from wrong ones.
    #[arg(long)]
    dump: Option<std::path::PathBuf>,
    /// Weight of the spelling prior on names and addresses (0 reads them greedily, as the reader of
    /// 1d4363f did); the default is the reader's.
    #[arg(long)]
    name_spelling: Option<f32>,
    /// Bonus per character of the spelling prior (default: the reader's).
    #[arg(long)]
    name_spelling_bonus: Option<f32>,
    /// Bonus of a name word of the lexicon read whole, in nats (default: the reader's; 0 turns
    /// the lexicon off, the name words still count in the spelling model).
    #[arg(long)]
    name_word_bonus: Option<f32>,
    /// A name model directory asked about every name line read in doubt, instead of the shipped
    /// one or `--model`'s `names/` (`KtpReader::with_second_opinion`).
    #[arg(long, conflicts_with = "no_second")]
    second_model: Option<std::path::PathBuf>,
    /// Read with the first recogniser alone: no second opinion on doubtful names.
    #[arg(long)]
    no_second: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The spelling models are learned when the reader is made; forced first here so that
    // `--timings` can tell their share of the start-up.
    let start = std::time::Instant::now();
    let spelling = &*ocr_model::spelling::REGISTER_SPELLING;
    let names = &*ocr_model::spelling::PERSON_NAME_SPELLING;
    let spelling_ms = start.elapsed().as_secs_f64() * 1e3;
    let reader = match &args.model {
        Some(dir) => KtpReader::from_dir(dir),
        None => KtpReader::shipped(),
    };
    let reader = reader.map(|r| {
        if args.no_second {
            r.without_second_opinion()
        } else {
            r
        }
    });
    let reader = reader.map(|r| {
        let mut spelling = ocr_model::reader::NAME_SPELLING;
        spelling.weight = args.name_spelling.unwrap_or(spelling.weight);
        spelling.bonus = args.name_spelling_bonus.unwrap_or(spelling.bonus);
        spelling.word_bonus = args.name_word_bonus.unwrap_or(spelling.word_bonus);
        r.with_name_spelling(spelling)
    });
    let reader = match (reader, &args.second_model) {
        (Ok(r), Some(dir)) => Recognizer::from_dir(dir).map(|second| r.with_second_opinion(second)),
        (r, _) => r,
    };
    if args.timings {
        let (contexts, counts) = spelling.lm.size();
        let (name_contexts, name_counts) = names.lm.size();
        println!(
            "start-up: spelling models {spelling_ms:.0} ms (places {contexts} contexts, {counts} counts; names {name_contexts}, {name_counts}), reader {:.0} ms in all",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    let reader = match reader {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ktp-eval: cannot load the model: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut dump = match args.dump.as_deref().map(std::fs::File::create).transpose() {
        Ok(f) => f.map(std::io::BufWriter::new),
        Err(e) => {
            eprintln!("ktp-eval: cannot create the dump file: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(out) = dump.as_mut()
        && let Err(e) = writeln!(out, "tier\tcard\tkey\tconfidence\twarned\tright")
    {
        eprintln!("ktp-eval: cannot write the dump file: {e}");
        return ExitCode::FAILURE;
    }
    for tier in &args.tiers {
        let set = match FontSet::load(&fonts::default_font_dir(), args.fonts) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ktp-eval: cannot load fonts: {e}");
                return ExitCode::FAILURE;
            }
        };
        let renderer = Renderer::new(set, *tier, args.seed).with_names(args.names);
        let options = eval::Options {
            given_corners: args.given_corners,
            resize_long: args.resize,
            mirror: args.mirror,
        };
        let results = match eval::run_with(
            &reader,
            &renderer,
            args.start,
            args.count,
            args.threads,
            options,
        ) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("ktp-eval: rendering failed: {e}");
                return ExitCode::FAILURE;
            }
        };
        if args.misses {
            for r in results.iter().filter(|r| !r.nik_exact || !r.name_exact) {
                let sample = renderer.render(r.index).ok();
                let scan = sample
                    .as_ref()
                    .and_then(|s| options.photo(s).ok())
                    .map(|(b, _)| reader.read_bytes(&b));
                let truth = sample.as_ref().map(|s| s.label.fields.clone());
                match (scan, truth) {
                    (Some(Ok(scan)), Some(t)) => {
                        let raw_nik = scan
                            .lines
                            .iter()
                            .find(|l| l.key == "nik")
                            .map_or("", |l| l.text.as_str());
                        eprintln!(
                            "{tier:?} #{}: nik {} -> {} ({:.3}, line read {raw_nik:?}); birth date {} -> {}; name {} -> {} ({:.3}); warnings {:?}; q {:?}",
                            r.index,
                            t.nik,
                            scan.reading.fields.nik.value,
                            scan.reading.fields.nik.confidence,
                            t.birth_date,
                            scan.reading.fields.birth_date.value,
                            t.name,
                            scan.reading.fields.name.value,
                            scan.reading.fields.name.confidence,
                            scan.reading
                                .warnings
                                .iter()
                                .map(|w| w.code())
                                .collect::<Vec<_>>(),
                            scan.quality
                        );
                    }
                    (Some(Err(e)), _) => eprintln!("{tier:?} #{}: {e}", r.index),
                    _ => {}
                }
            }
        }
        if args.show {
            for r in &results {
                let Ok(sample) = renderer.render(r.index) else {
                    continue;
                };
                let Ok((bytes, _)) = options.photo(&sample) else {
                    continue;
                };
                let out = ocr_model::reader::ScanOutput::read(&reader, None, &bytes);
                println!(
                    "{tier:?} #{} truth {}\n  read {}",
                    r.index,
                    serde_json::to_string(&sample.label.fields).unwrap_or_default(),
                    serde_json::to_string(&out).unwrap_or_default()
                );
            }
        }
        if let Some(out) = dump.as_mut() {
            let written: std::io::Result<()> = results.iter().try_for_each(|r| {
                r.fields.iter().try_for_each(|f| {
                    writeln!(
                        out,
                        "{tier:?}\t{}\t{}\t{:.6}\t{}\t{}",
                        r.index,
                        f.key,
                        f.confidence,
                        u8::from(f.warned),
                        u8::from(f.right)
                    )
                })
            });
            if let Err(e) = written.and_then(|()| out.flush()) {
                eprintln!("ktp-eval: cannot write the dump file: {e}");
                return ExitCode::FAILURE;
            }
        }
        let report = eval::summarize(*tier, &results);
        println!("{report}");
        if args.lines {
            let per: Vec<String> = report
                .line_exact
                .iter()
                .map(|(k, e)| format!("{k} {:.1}", 100.0 * e))
                .collect();
            println!("  lines read exactly, %: {}", per.join(", "));
        }
        if args.timings {
            let mut sum = ocr_model::reader::Timings::default();
            let mut n = 0.0;
            let (mut decode, mut lines) = (0.0, 0usize);
            for i in args.start..args.start + args.count.min(30) {
                let Ok(sample) = renderer.render(i) else {
                    continue;
                };
                let Ok((bytes, _)) = options.photo(&sample) else {
                    continue;
                };
                let t = std::time::Instant::now();
                // As `read_bytes` decodes (a large JPEG at a reduced size).
                let Ok((img, _)) = ocr_model::reader::decode_reduced(&bytes) else {
                    continue;
                };
                decode += t.elapsed().as_secs_f64() * 1e3;
                if let Ok(scan) = reader.read_image(&img) {
                    let t = scan.timings;
                    sum.detect += t.detect;
                    sum.layout += t.layout;
                    sum.cut += t.cut;
                    sum.recognize += t.recognize;
                    sum.fields += t.fields;
                    lines += scan.lines.len();
                    n += 1.0;
                }
            }
            let n: f64 = f64::max(n, 1.0);
            println!(
                "  mean ms: decode {:.1}, detect {:.1}, straighten+checks+layout {:.1}, cut {:.1}, recognize {:.1} ({:.1} lines), fields {:.2}",
                decode / n,
                sum.detect / n,
                sum.layout / n,
                sum.cut / n,
                sum.recognize / n,
                lines as f64 / n,
                sum.fields / n
            );
        }
    }
    ExitCode::SUCCESS
}
