//! Scoring the reader on rendered cards: per tier, NIK and name exact match, character error rate
//! per field, refusals, confidently wrong NIKs and time per card. Used by the accuracy test, the
//! `ktp-eval` tool and the benchmark, always on cards the reader never trained on (held-out fonts,
//! another seed).

use std::time::Instant;

use crate::fields::edit_distance;
use crate::reader::{KtpReader, ScanError};
use crate::synth::{Renderer, SynthError, Tier};

/// A NIK at or above this confidence, with no NIK warning, is "confident".
pub const CONFIDENT: f32 = 0.9;

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
    /// Decode + read, milliseconds.
    pub elapsed_ms: f64,
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
    let threads = threads.max(1) as u64;
    let mut out: Vec<Result<Vec<CardResult>, SynthError>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut res = Vec::new();
                    let mut i = start + t;
                    while i < start + count {
                        res.push(score_one(reader, renderer, i)?);
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
) -> Result<CardResult, SynthError> {
    let sample = renderer.render(index)?;
    let (bytes, _) = sample.file_bytes()?;
    let truth = sample.label.fields.pairs();
    let t0 = Instant::now();
    let result = reader.read_bytes(&bytes);
    let elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
    Ok(match result {
        Ok(scan) => {
            let got = scan.reading.fields.pairs();
            let errors = truth
                .iter()
                .zip(got.iter())
                .map(|((k, t), (_, g))| (*k, edit_distance(t, &g.value), t.chars().count()))
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
    /// Character error rate over the cards that were read, all fields together.
    pub cer_read: f64,
    /// Per field: character error rate over the cards that were read.
    pub field_cer: Vec<(&'static str, f64)>,
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
        cer_read: e_all as f64 / l_all.max(1) as f64,
        field_cer,
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
        write!(f, "  CER % per field: {}", per.join(", "))
    }
}
