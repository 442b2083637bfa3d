//! The line recogniser: the shipped CNN + CTC ONNX model run by tract, with the preprocessing
//! contract of `training/README.md` ("What the Rust side must do").
//!
//! The graph is convolutional along the width, so one graph runs at any width that is a multiple
//! of the stride. Training exports it at the bucket widths it trained at (128, 256, 384, 480); the
//! reader plans it at every multiple of [`WIDTH_STEP`] up to [`MAX_WIDTH`] and gives each line the
//! narrowest that holds it: tract's time grows with the width, so padding a 140-pixel line to 256
//! would cost almost twice the work (`cargo run --release -p ocr-model --example width_probe`).
//!
//! The model files are compiled into the binary (`include_bytes!`), so the node is one file and
//! the reader needs nothing on disk: the line model, and the name model (the line model trained
//! further on name lines alone, `model/names/`, [`Recognizer::shipped_names`]).
//! [`Recognizer::from_dir`] loads another set (a fresh training run) with the same contract.

use std::path::Path;

use image::GrayImage;
use tract_onnx::prelude::*;

use crate::ctc::{self, Charset, CtcError};

/// Height of every line crop the model reads.
pub const LINE_HEIGHT: u32 = 32;
/// The widths training exports the model at (`ktp-line-w{W}.onnx`); the reader uses the widest file.
pub const BUCKETS: [u32; 4] = [128, 256, 384, 480];
/// The widest input: a wider line is squeezed to it.
pub const MAX_WIDTH: u32 = BUCKETS[BUCKETS.len() - 1];
/// The reader plans the graph at every multiple of this width up to [`MAX_WIDTH`] (15 plans, about
/// 6 ms each to build); a line gets the narrowest that holds it.
pub const WIDTH_STEP: u32 = 32;
/// Input columns per output timestep.
pub const STRIDE: u32 = 4;
/// Columns of padding every line gets at least: the model learnt with lines that end well before
/// the edge of their bucket, and reads a last letter flush against the edge less surely.
pub const RIGHT_MARGIN: u32 = 8;
/// Floor on the standard deviation used to normalise a crop (a blank crop stays blank).
const STD_FLOOR: f32 = 0.02;

/// The shipped model (its widest export) and the charset.
const SHIPPED: &[u8] = include_bytes!("../model/ktp-line-w480.onnx");
const SHIPPED_CHARSET: &str = include_str!("../model/charset.txt");
/// The shipped name model: the line model trained further on name lines alone
/// (`training/train.sh`, step 4), with the same charset.
const SHIPPED_NAMES: &[u8] = include_bytes!("../model/names/ktp-line-w480.onnx");
/// Where a model directory keeps its name model, if it has one ([`KtpReader::from_dir`]).
///
/// [`KtpReader::from_dir`]: crate::reader::KtpReader::from_dir
pub const NAMES_DIR: &str = "names";

/// Why the recogniser could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum RecognizerError {
    #[error("reading model file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("loading the ONNX model")]
    Parse {
        #[source]
        source: anyhow_tract::Error,
    },
    #[error("planning the ONNX model for width {width}")]
    Load {
        width: u32,
        #[source]
        source: anyhow_tract::Error,
    },
    #[error("running the model for width {width}")]
    Run {
        width: u32,
        #[source]
        source: anyhow_tract::Error,
    },
    #[error("the model's output has shape {shape:?}, expected [1, {t}, >= {classes}]")]
    OutputShape {
        shape: Vec<usize>,
        t: usize,
        classes: usize,
    },
    #[error("charset")]
    Charset(#[from] CtcError),
    #[error(
        "a line crop must be {LINE_HEIGHT} pixels high and at least 1 wide, not {width}x{height}"
    )]
    CropSize { width: u32, height: u32 },
}

/// tract's error type, named so the variants above can keep it as their source.
mod anyhow_tract {
    pub type Error = tract_onnx::prelude::TractError;
}

type Plan = std::sync::Arc<TypedRunnableModel>;

/// Log-probabilities of one line: `t` timesteps of `c` classes, row-major, class 0 the CTC blank.
#[derive(Debug, Clone, PartialEq)]
pub struct LineLogits {
    pub t: usize,
    pub c: usize,
    pub logp: Vec<f32>,
}

impl LineLogits {
    /// Greedy decoding over every character.
    pub fn greedy(&self, charset: &Charset) -> Result<ctc::Decoded, CtcError> {
        ctc::greedy(&self.logp, self.t, self.c, charset)
    }

    /// Greedy decoding restricted to the blank and `allowed`.
    pub fn constrained(&self, charset: &Charset, allowed: &str) -> Result<ctc::Decoded, CtcError> {
        ctc::greedy_constrained(&self.logp, self.t, self.c, charset, allowed)
    }

    /// Greedy decoding that emits only `allowed`, at the model's own probabilities.
    pub fn restricted(&self, charset: &Charset, allowed: &str) -> Result<ctc::Decoded, CtcError> {
        ctc::greedy_restricted(&self.logp, self.t, self.c, charset, allowed)
    }

    /// The log-probability of `text` on the line, summed over every alignment (`None` when the
    /// line is too short to hold it).
    pub fn log_likelihood(&self, charset: &Charset, text: &str) -> Result<Option<f64>, CtcError> {
        ctc::log_likelihood(&self.logp, self.t, self.c, charset, text)
    }

    /// The best path that fits `template` (one character set per character).
    pub fn template(
        &self,
        charset: &Charset,
        template: &[&str],
    ) -> Result<Option<ctc::Decoded>, CtcError> {
        ctc::best_path_template(&self.logp, self.t, self.c, charset, template)
    }

    /// Mean over timesteps of the best class's log-probability: how sure the model is of this
    /// line as a whole, comparable between crops of different widths.
    pub fn mean_best_logp(&self) -> f32 {
        let c = self.c.max(1);
        let sum: f32 = self
            .logp
            .chunks_exact(c)
            .map(|row| row.iter().copied().fold(f32::NEG_INFINITY, f32::max))
            .sum();
        sum / self.t.max(1) as f32
    }

    /// The timesteps after the last one whose best class is `ch`, or `None` if there is none.
    pub fn after_last(&self, charset: &Charset, ch: char) -> Option<LineLogits> {
        let k = charset.class_of(ch)?;
        let c = self.c.max(1);
        let last = self.logp.chunks_exact(c).rposition(|row| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .is_some_and(|(i, _)| i == k)
        })?;
        Some(LineLogits {
            t: self.t - last - 1,
            c: self.c,
            logp: self.logp[(last + 1) * c..].to_vec(),
        })
    }
}

/// The loaded model (one optimised plan per multiple of [`WIDTH_STEP`]) and the charset. Cheap to share:
/// `recognize` takes `&self` and may run on several threads at once.
pub struct Recognizer {
    plans: Vec<(u32, Plan)>,
    charset: Charset,
}

impl std::fmt::Debug for Recognizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recognizer")
            .field(
                "buckets",
                &self.plans.iter().map(|p| p.0).collect::<Vec<_>>(),
            )
            .field("classes", &self.charset.num_classes())
            .finish()
    }
}

impl Recognizer {
    /// The model compiled into this binary.
    pub fn shipped() -> Result<Self, RecognizerError> {
        Self::from_bytes(SHIPPED, SHIPPED_CHARSET)
    }

    /// The shipped name model ([`NAMES_DIR`] of the shipped model directory).
    pub fn shipped_names() -> Result<Self, RecognizerError> {
        Self::from_bytes(SHIPPED_NAMES, SHIPPED_CHARSET)
    }

    /// A model set in `dir`, as written by `training/train.sh`: `ktp-line-w480.onnx` (the widest
    /// export; the reader plans it at every width it needs) and `charset.txt`.
    pub fn from_dir(dir: &Path) -> Result<Self, RecognizerError> {
        let read = |name: String| {
            let path = dir.join(&name);
            std::fs::read(&path).map_err(|source| RecognizerError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        let model = read(format!("ktp-line-w{MAX_WIDTH}.onnx"))?;
        let charset = String::from_utf8_lossy(&read("charset.txt".to_owned())?).into_owned();
        Self::from_bytes(&model, &charset)
    }

    fn from_bytes(model: &[u8], charset_txt: &str) -> Result<Self, RecognizerError> {
        let charset = Charset::from_charset_txt(charset_txt)?;
        let graph = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(model))
            .map_err(|source| RecognizerError::Parse { source })?;
        let mut plans = Vec::new();
        for width in (WIDTH_STEP..=MAX_WIDTH).step_by(WIDTH_STEP as usize) {
            let load = || -> TractResult<Plan> {
                graph
                    .clone()
                    .with_input_fact(
                        0,
                        f32::fact([1, 1, LINE_HEIGHT as usize, width as usize]).into(),
                    )?
                    .into_optimized()?
                    .into_runnable()
            };
            let plan = load().map_err(|source| RecognizerError::Load { width, source })?;
            plans.push((width, plan));
        }
        Ok(Recognizer { plans, charset })
    }

    /// The character set of the model (class k is `charset.char_of(k)`, class 0 the blank).
    pub fn charset(&self) -> &Charset {
        &self.charset
    }

    /// Reads one straightened grey line crop, `LINE_HEIGHT` pixels high.
    pub fn recognize(&self, crop: &GrayImage) -> Result<LineLogits, RecognizerError> {
        if crop.height() != LINE_HEIGHT || crop.width() == 0 {
            return Err(RecognizerError::CropSize {
                width: crop.width(),
                height: crop.height(),
            });
        }
        let (width, input) = prepare(crop);
        let plan = self
            .plans
            .iter()
            .find(|(w, _)| *w == width)
            .map(|(_, p)| p)
            .ok_or(RecognizerError::CropSize {
                width: crop.width(),
                height: crop.height(),
            })?;
        let tensor: Tensor = tract_ndarray::Array4::from_shape_vec(
            (1, 1, LINE_HEIGHT as usize, width as usize),
            input,
        )
        .map_err(|e| RecognizerError::Run {
            width,
            source: e.into(),
        })?
        .into();
        let out = plan
            .run(tvec!(tensor.into()))
            .map_err(|source| RecognizerError::Run { width, source })?;
        let view = out[0]
            .to_plain_array_view::<f32>()
            .map_err(|source| RecognizerError::Run { width, source })?;
        let shape = view.shape().to_vec();
        let t = (width / STRIDE) as usize;
        let classes = self.charset.num_classes();
        if shape.len() != 3 || shape[0] != 1 || shape[1] != t || shape[2] < classes {
            return Err(RecognizerError::OutputShape { shape, t, classes });
        }
        Ok(LineLogits {
            t,
            c: shape[2],
            logp: view.iter().copied().collect(),
        })
    }
}

/// The narrowest planned width holding `width` columns ([`MAX_WIDTH`] for wider lines, which are
/// squeezed).
pub fn bucket_for(width: u32) -> u32 {
    width.div_ceil(WIDTH_STEP).clamp(1, MAX_WIDTH / WIDTH_STEP) * WIDTH_STEP
}

/// Steps 1-4 of the contract: squeeze to [`MAX_WIDTH`] if wider, normalise by the crop's own
/// mean and standard deviation, right-pad by repeating the last column. Returns the planned width
/// and the `[32, W]` row-major input.
pub fn prepare(crop: &GrayImage) -> (u32, Vec<f32>) {
    let max = MAX_WIDTH;
    let squeezed;
    let crop = if crop.width() > max {
        squeezed = image::imageops::resize(
            crop,
            max,
            LINE_HEIGHT,
            image::imageops::FilterType::Triangle,
        );
        &squeezed
    } else {
        crop
    };
    let (w, h) = (crop.width() as usize, crop.height() as usize);
    let n = (w * h) as f64;
    let (mut sum, mut sq) = (0.0f64, 0.0f64);
    for p in crop.as_raw() {
        let v = f64::from(*p) / 255.0;
        sum += v;
        sq += v * v;
    }
    let mean = sum / n;
    let std = ((sq / n - mean * mean).max(0.0)).sqrt() as f32;
    let (mean, scale) = (mean as f32, 1.0 / std.max(STD_FLOOR));
    let width = bucket_for(w as u32 + RIGHT_MARGIN);
    let wb = width as usize;
    let mut out = vec![0.0f32; h * wb];
    let raw = crop.as_raw();
    for y in 0..h {
        let row = &raw[y * w..(y + 1) * w];
        let dst = &mut out[y * wb..(y + 1) * wb];
        for (x, d) in dst.iter_mut().enumerate() {
            let p = row[x.min(w - 1)];
            *d = (f32::from(p) / 255.0 - mean) * scale;
        }
    }
    (width, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_the_narrowest_planned_that_fit() {
        assert_eq!(bucket_for(0), 32);
        assert_eq!(bucket_for(1), 32);
        assert_eq!(bucket_for(32), 32);
        assert_eq!(bucket_for(33), 64);
        assert_eq!(bucket_for(129), 160);
        assert_eq!(bucket_for(479), 480);
        assert_eq!(bucket_for(480), 480);
        assert_eq!(bucket_for(900), 480);
        assert_eq!(MAX_WIDTH % WIDTH_STEP, 0);
        assert_eq!(WIDTH_STEP % STRIDE, 0);
    }

    #[test]
    fn prepare_normalises_and_pads_with_the_last_column() {
        let mut crop = GrayImage::new(10, LINE_HEIGHT);
        for (x, _, p) in crop.enumerate_pixels_mut() {
            p.0[0] = if x < 5 { 0 } else { 255 };
        }
        let (w, input) = prepare(&crop);
        assert_eq!(w, 32, "10 columns and the margin fit in 32");
        assert_eq!(input.len(), 32 * 32);
        // Half black, half white: mean 0.5, std 0.5, so -1 and +1; padding repeats the white column.
        assert!((input[0] + 1.0).abs() < 1e-5);
        assert!((input[9] - 1.0).abs() < 1e-5);
        assert!((input[31] - 1.0).abs() < 1e-5);
        // A flat crop does not blow up.
        let flat = GrayImage::from_pixel(40, LINE_HEIGHT, image::Luma([200]));
        let (_, input) = prepare(&flat);
        assert!(input.iter().all(|v| v.abs() < 1e-3));
    }

    #[test]
    fn wide_crops_are_squeezed_to_the_largest_bucket() {
        let crop = GrayImage::from_pixel(700, LINE_HEIGHT, image::Luma([100]));
        let (w, input) = prepare(&crop);
        assert_eq!(w, 480);
        assert_eq!(input.len(), 480 * 32);
    }

    #[test]
    fn shipped_models_load_and_read_a_blank_line_as_nothing() {
        assert_ne!(
            SHIPPED, SHIPPED_NAMES,
            "the name model is trained further, not a copy"
        );
        let line = Recognizer::shipped().expect("shipped model loads");
        let names = Recognizer::shipped_names().expect("shipped name model loads");
        // 200 columns and the margin take 224; 160 and the margin, 192.
        for (r, width, grey, planned) in [(&line, 200, 210, 224), (&names, 160, 200, 192)] {
            let blank = GrayImage::from_pixel(width, LINE_HEIGHT, image::Luma([grey]));
            let logits = r.recognize(&blank).expect("runs");
            assert_eq!(logits.t, planned / STRIDE as usize, "{width} columns");
            let d = logits.greedy(r.charset()).expect("decodes");
            assert_eq!(d.text.trim(), "");
        }
        assert!(matches!(
            line.recognize(&GrayImage::new(10, 20)),
            Err(RecognizerError::CropSize { .. })
        ));
    }
}
