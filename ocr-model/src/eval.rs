//! Scoring the reader on rendered cards: per tier, NIK and name exact match, character error rate
//! per field, refusals, confidently wrong NIKs and time per card. Used by the accuracy test, the
//! `ktp-eval` tool and the benchmark, always on cards the reader never trained on (held-out fonts,
//! another seed).

use std::time::Instant;

use crate::fields::edit_distance;
use crate::reader::{KtpReader, ScanError};
use crate::synth::{Renderer, Sample, SynthError, Tier};

/// A NIK at or above this confidence, with no NIK warning, is "confident".
pub const CONFIDENT: f32 = 0.9;

/// The printed lines the reader reads, by their keys.
pub use crate::fields::LINE_KEYS;

/// The outcome for one card.
#[derive(Debug, Clone, PartialEq)]
pub struct CardResult {
    pub index: u64,
    /// The refusal code, or `None` when the card was read.
    pub refused: Option<&'static str>,
    pub nik_exact: bool,
    pub name_exact: bool,
    /// Confidence ≥ [`CONFIDENT`], no `nik_*` warning.
    pub nik_confident: bool,
    /// Per field in contract order: (edit distance, length of the truth).
    pub errors: Vec<(&'static str, usize, usize)>,
    /// Per printed line the reader looks for (headers, NIK, values; an address's lines joined):
    /// whether the line as read, before field parsing, is exactly the line as printed.
    pub lines: Vec<(&'static str, bool)>,
    /// Every field as returned, in contract order (empty when the card was refused).
    pub fields: Vec<FieldOutcome>,
    /// Decode + read, milliseconds.
    pub elapsed_ms: f64,
}

/// One returned field: its confidence, whether a warning names it, and whether it was right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldOutcome {
    pub key: &'static str,
    pub confidence: f32,
    pub warned: bool,
    pub right: bool,
}

impl FieldOutcome {
    /// Returned with confidence ≥ [`CONFIDENT`] and no warning naming it: the operator is not
    /// asked to check it.
    pub fn confident(&self) -> bool {
        self.confidence >= CONFIDENT && !self.warned
    }
}

/// How the reader is run on each card.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Give the reader the card's true corners instead of letting it find the card, to score the
    /// rest of the pipeline on its own.
    pub given_corners: bool,
    /// Resample each photo to this long side (pixels) and save it as a phone would (JPEG 92)
    /// before reading it: a 12-megapixel phone photo is 4000 pixels long.
    pub resize_long: Option<u32>,
    /// Mirror each photo left to right, as a camera that saves its preview does
    /// ([`Sample::mirrored_png`]); not with `given_corners` or `resize_long`.
    pub mirror: bool,
}

impl Options {
    /// The photo file the reader is given for `sample`, and the factor its pixels were scaled by.
    pub fn photo(&self, sample: &Sample) -> Result<(Vec<u8>, f32), SynthError> {
        if self.mirror {
            return Ok((sample.mirrored_png()?, 1.0));
        }
        match self.resize_long {
            Some(long) => sample.resized_jpeg(long),
            None => Ok((sample.file_bytes()?.0, 1.0)),
        }
    }
}

/// Renders cards `start..start + count` of `renderer` and reads each file's bytes, on `threads`
/// threads (results in index order).
pub fn run(
    reader: &KtpReader,
    renderer: &Renderer,
    start: u64,
    count: u64,
    threads: usize,
) -> Result<Vec<CardResult>, SynthError> {
    run_with(reader, renderer, start, count, threads, Options::default())
}

/// [`run`] with options.
pub fn run_with(
    reader: &KtpReader,
    renderer: &Renderer,
    start: u64,
    count: u64,
    threads: usize,
    options: Options,
) -> Result<Vec<CardResult>, SynthError> {
    let threads = threads.max(1) as u64;
    let mut out: Vec<Result<Vec<CardResult>, SynthError>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut res = Vec::new();
                    let mut i = start + t;
                    while i < start + count {
                        res.push(score_one(reader, renderer, i, options)?);
                        i += threads;
                    }
                    Ok(res)
                })
            })
            .collect();
        for h in handles {
            out.push(h.join().unwrap_or_else(|_| Ok(Vec::new())));
        }
    });
    let mut all = Vec::new();
    for r in out {
        all.extend(r?);
    }
    all.sort_by_key(|r| r.index);
    Ok(all)
}

/// Reads one rendered card and compares with its ground truth.
pub fn score_one(
    reader: &KtpReader,
    renderer: &Renderer,
    index: u64,
    options: Options,
) -> Result<CardResult, SynthError> {
    let sample = renderer.render(index)?;
    let (bytes, scale) = options.photo(&sample)?;
    let corners = sample.label.corners.map(|p| p.map(|v| v * scale));
    let truth = sample.label.fields.pairs();
    let t0 = Instant::now();
    let result = if options.given_corners {
        crate::reader::decode(&bytes)
            .map_err(ScanError::Refused)
            .and_then(|img| reader.read_image_at(&img, corners))
    } else {
        reader.read_bytes(&bytes)
    };
    let elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
    let printed = |key: &str| -> String {
        let parts: Vec<&str> = sample
            .label
            .lines
            .iter()
            .filter(|l| l.key == key)
            .map(|l| l.text.as_str())
            .collect();
        parts.join(" ")
    };
    Ok(match result {
        Ok(scan) => {
            let got = scan.reading.fields.pairs();
            let errors = truth
                .iter()
                .zip(got.iter())
                .map(|((k, t), (_, g))| (*k, edit_distance(t, &g.value), t.chars().count()))
                .collect();
            let warned = |key: &str| {
                scan.reading.warnings.iter().any(|w| {
                    let code = w.code();
                    code.contains(key) || (key.starts_with("birth") && code.contains("birth"))
                })
            };
            let fields = truth
                .iter()
                .zip(got.iter())
                .map(|((k, t), (_, g))| FieldOutcome {
                    key: k,
                    confidence: g.confidence,
                    warned: warned(k),
                    right: g.value == *t,
                })
                .collect();
            let nik = &scan.reading.fields.nik;
            let nik_warned = scan
                .reading
                .warnings
                .iter()
                .any(|w| w.code().contains("nik"));
            CardResult {
                index,
                refused: None,
                nik_exact: nik.value == truth[0].1,
                name_exact: scan.reading.fields.name.value == truth[1].1,
                nik_confident: nik.confidence >= CONFIDENT && !nik_warned,
                errors,
                lines: LINE_KEYS
                    .iter()
                    .map(|&k| {
                        let read: Vec<&str> = scan
                            .lines
                            .iter()
                            .filter(|l| l.key == k)
                            .map(|l| l.text.as_str())
                            .collect();
                        (k, read.join(" ") == printed(k))
                    })
                    .collect(),
                fields,
                elapsed_ms,
            }
        }
        Err(e) => CardResult {
            index,
            refused: Some(match e {
                ScanError::Refused(r) => r.code(),
                ScanError::Recognizer(_) => "reader_failed",
            }),
            nik_exact: false,
            name_exact: false,
            nik_confident: false,
            errors: truth
                .iter()
                .map(|(k, t)| (*k, t.chars().count(), t.chars().count()))
                .collect(),
            lines: LINE_KEYS.iter().map(|&k| (k, false)).collect(),
            fields: Vec::new(),
            elapsed_ms,
        },
    })
}

/// The figures for one tier.
#[derive(Debug, Clone, PartialEq)]
pub struct TierReport {
    pub tier: Tier,
    pub cards: usize,
    pub refused: usize,
    /// Over all cards (a refused card is not a match).
    pub nik_exact: f64,
    pub name_exact: f64,
    /// Confidently returned NIKs that were wrong, and how many were confident.
    pub confident_wrong: usize,
    pub confident: usize,
    /// All fields together: those returned confidently (≥ [`CONFIDENT`], no warning naming them),
    /// and those of them that were wrong, by field.
    pub confident_fields: usize,
    pub confident_wrong_fields: Vec<(&'static str, usize)>,
    /// Fields returned right but left for the operator to check (under [`CONFIDENT`] or warned),
    /// over all read cards: the checks the confidences ask for in vain.
    pub doubted_right_fields: usize,
    /// All fields returned (17 per read card).
    pub returned_fields: usize,
    /// Per field, over all cards: returned right, and returned confidently (right or not).
    pub field_tally: Vec<(&'static str, usize, usize)>,
    /// Character error rate over the cards that were read, all fields together.
    pub cer_read: f64,
    /// Per field: character error rate over the cards that were read.
    pub field_cer: Vec<(&'static str, f64)>,
    /// Per printed line: the share of all cards on which it was read exactly.
    pub line_exact: Vec<(&'static str, f64)>,
    pub median_ms: f64,
    pub p95_ms: f64,
}

/// Sums up one tier's results.
pub fn summarize(tier: Tier, results: &[CardResult]) -> TierReport {
    let n = results.len().max(1) as f64;
    let read: Vec<&CardResult> = results.iter().filter(|r| r.refused.is_none()).collect();
    let mut field_cer = Vec::new();
    let (mut e_all, mut l_all) = (0usize, 0usize);
    if let Some(first) = results.first() {
        for (i, (key, _, _)) in first.errors.iter().enumerate() {
            let (e, l) = read
                .iter()
                .fold((0, 0), |(e, l), r| (e + r.errors[i].1, l + r.errors[i].2));
            e_all += e;
            l_all += l;
            field_cer.push((*key, e as f64 / l.max(1) as f64));
        }
    }
    let outcomes = || results.iter().flat_map(|r| r.fields.iter());
    let mut ms: Vec<f64> = results.iter().map(|r| r.elapsed_ms).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        ms.get(((ms.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    TierReport {
        tier,
        cards: results.len(),
        refused: results.len() - read.len(),
        nik_exact: results.iter().filter(|r| r.nik_exact).count() as f64 / n,
        name_exact: results.iter().filter(|r| r.name_exact).count() as f64 / n,
        confident_wrong: results
            .iter()
            .filter(|r| r.nik_confident && !r.nik_exact)
            .count(),
        confident: results.iter().filter(|r| r.nik_confident).count(),
        confident_fields: outcomes().filter(|f| f.confident()).count(),
        confident_wrong_fields: {
            let mut by: Vec<(&'static str, usize)> = Vec::new();
            for f in outcomes().filter(|f| f.confident() && !f.right) {
                match by.iter_mut().find(|(k, _)| *k == f.key) {
                    Some(e) => e.1 += 1,
                    None => by.push((f.key, 1)),
                }
            }
            by
        },
        doubted_right_fields: outcomes().filter(|f| f.right && !f.confident()).count(),
        returned_fields: outcomes().count(),
        field_tally: {
            let mut by: Vec<(&'static str, usize, usize)> = Vec::new();
            for f in outcomes() {
                let i = match by.iter().position(|(k, _, _)| *k == f.key) {
                    Some(i) => i,
                    None => {
                        by.push((f.key, 0, 0));
                        by.len() - 1
                    }
                };
                by[i].1 += usize::from(f.right);
                by[i].2 += usize::from(f.confident());
            }
            by
        },
        cer_read: e_all as f64 / l_all.max(1) as f64,
        field_cer,
        line_exact: LINE_KEYS
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let hits = results
                    .iter()
                    .filter(|r| r.lines.get(i).is_some_and(|l| l.1))
                    .count();
                (k, hits as f64 / n)
            })
            .collect(),
        median_ms: pct(0.5),
        p95_ms: pct(0.95),
    }
}

impl std::fmt::Display for TierReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "tier {:?}: {} cards, {} refused; NIK exact {:.1} %, name exact {:.1} %, CER (read cards) {:.2} %; \
             confident NIKs {} of which wrong {}; median {:.1} ms, p95 {:.1} ms",
            self.tier,
            self.cards,
            self.refused,
            100.0 * self.nik_exact,
            100.0 * self.name_exact,
            100.0 * self.cer_read,
            self.confident,
            self.confident_wrong,
            self.median_ms,
            self.p95_ms
        )?;
        let per: Vec<String> = self
            .field_cer
            .iter()
            .map(|(k, c)| format!("{k} {:.1}", 100.0 * c))
            .collect();
        writeln!(f, "  CER % per field: {}", per.join(", "))?;
        let tally: Vec<String> = self
            .field_tally
            .iter()
            .map(|(k, right, sure)| format!("{k} {right}/{sure}"))
            .collect();
        writeln!(f, "  right/sure per field: {}", tally.join(", "))?;
        let wrong: usize = self.confident_wrong_fields.iter().map(|(_, n)| n).sum();
        write!(
            f,
            "  confident fields {} of which wrong {wrong} {:?}; right but doubted {} of {} returned ({:.1} per read card)",
            self.confident_fields,
            self.confident_wrong_fields,
            self.doubted_right_fields,
            self.returned_fields,
            self.doubted_right_fields as f64 / (self.cards - self.refused).max(1) as f64
        )
    }
}
