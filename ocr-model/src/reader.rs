//! The KTP reader: image bytes to validated fields, or a refusal with a reason.
//!
//! decode (bounded size and pixel count; a large JPEG at a reduced size) -> find the card (`detect`) -> straighten it, turning it
//! if upside down (`layout::rectify`) -> refuse what cannot be read honestly (too small, too dark,
//! too blurred, glare over the NIK, no KTP layout) -> find the lines (`layout::find_lines`) -> read
//! each with the recogniser (digits-only decoding for the NIK and RT/RW) -> `fields::read_fields`.
//!
//! Nothing here keeps the image: it lives in the caller's buffer and in this call's locals only.

use std::io::Cursor;
use std::sync::LazyLock;
use std::time::Instant;

use image::{GrayImage, ImageFormat, RgbImage};
use serde::Serialize;

use crate::ctc::{NIK_CHARS, RT_RW_CHARS};
use crate::detect::{self, FoundCard};
use crate::fields::{self, KtpReading, RawLine, Warning};
use crate::layout::{self, Ink, Pyramid};
use crate::recognizer::{LINE_HEIGHT, Recognizer, RecognizerError};
use crate::spelling::{self, REGISTER_SPELLING, SpellingPrior};
use crdt_schema::patient::vocab;

/// Largest accepted file.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Largest accepted pixel count (a 40-megapixel photo); larger headers are refused before decoding.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Smallest accepted image side.
pub const MIN_SIDE: u32 = 240;
/// The card must be at least this wide in the photo (about 4 pixels per millimetre).
pub const MIN_CARD_PX: f32 = 340.0;
/// Mean grey level of the card below which it is too dark.
pub const MIN_CARD_MEAN: f32 = 45.0;
/// Text contrast (grey levels) below which nothing can be read: too dark when the card is dim,
/// too blurred when it is bright (blur spreads the strokes into the paper).
pub const MIN_CONTRAST: f32 = 12.0;
/// Share of near-white pixels over the NIK above which glare hides it.
pub const MAX_NIK_GLARE: f32 = 0.18;
/// When the median line's mean best log-probability per timestep is under this, the model cannot
/// read the card: it is refused (too dark or too blurred, by its brightness) rather than guessed.
pub const UNREADABLE_BELOW: f32 = -0.35;
/// Above this blur of the NIK's print ([`Quality::nik_blur_mm`], millimetres) the card is refused
/// as too blurred: the letters run into each other (the body text's capitals are 1.35-1.55 mm
/// high). Held-out hard photos measure up to about 0.42, sharp ones about 0.2.
pub const MAX_NIK_BLUR_MM: f32 = 0.5;
/// A card whose text is unreadable and whose mean grey level is under this is called too dark
/// rather than too blurred.
pub const DIM_CARD_MEAN: f32 = 85.0;

/// Why a photo was not read. Each has a stable code and a message in Indonesian, then English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    #[error("not_an_image")]
    NotAnImage,
    #[error("image_too_large")]
    ImageTooLarge,
    #[error("image_too_small")]
    ImageTooSmall,
    #[error("not_a_ktp")]
    NotAKtp,
    #[error("too_dark")]
    TooDark,
    #[error("too_blurred")]
    TooBlurred,
    #[error("glare_on_nik")]
    GlareOnNik,
}

impl Refusal {
    /// Every refusal.
    pub const ALL: [Refusal; 7] = [
        Refusal::NotAnImage,
        Refusal::ImageTooLarge,
        Refusal::ImageTooSmall,
        Refusal::NotAKtp,
        Refusal::TooDark,
        Refusal::TooBlurred,
        Refusal::GlareOnNik,
    ];

    /// The refusal with this code.
    pub fn from_code(code: &str) -> Option<Refusal> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NotAnImage => "not_an_image",
            Refusal::ImageTooLarge => "image_too_large",
            Refusal::ImageTooSmall => "image_too_small",
            Refusal::NotAKtp => "not_a_ktp",
            Refusal::TooDark => "too_dark",
            Refusal::TooBlurred => "too_blurred",
            Refusal::GlareOnNik => "glare_on_nik",
        }
    }

    /// What to tell the person holding the card.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotAnImage => {
                "Berkas bukan gambar JPEG, PNG atau WebP yang utuh. / The file is not a readable JPEG, PNG or WebP image."
            }
            Refusal::ImageTooLarge => {
                "Gambar terlalu besar (maks. 10 MB dan 40 megapiksel). / The image is too large (at most 10 MB and 40 megapixels)."
            }
            Refusal::ImageTooSmall => {
                "Gambar atau kartu terlalu kecil: dekatkan KTP ke kamera. / The image or the card in it is too small: hold the KTP closer."
            }
            Refusal::NotAKtp => {
                "Tidak ditemukan KTP di foto: letakkan seluruh kartu di tengah bingkai. / No KTP found: place the whole card in the middle of the frame."
            }
            Refusal::TooDark => {
                "Foto terlalu gelap: tambah cahaya. / The photo is too dark: add light."
            }
            Refusal::TooBlurred => {
                "Foto terlalu buram: tahan kartu diam dan fokuskan kamera. / The photo is too blurred: hold the card still and let the camera focus."
            }
            Refusal::GlareOnNik => {
                "Pantulan cahaya menutupi NIK: miringkan kartu sedikit. / Glare covers the NIK: tilt the card a little."
            }
        }
    }
}

/// A failed read: a refusal (the photo's fault) or a fault of the reader itself.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error("the recogniser failed")]
    Recognizer(#[from] RecognizerError),
}

/// Measurements of one photo, for tuning the refusal thresholds and for the operator's screen.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Quality {
    pub card_score: f32,
    pub card_width_px: f32,
    pub mean: f32,
    pub contrast: f32,
    /// Median over the lines of the mean best log-probability per timestep (0 is certain).
    pub line_quality: f32,
    pub nik_glare: f32,
    /// How blurred the NIK's print is, millimetres ([`layout::nik_blur_mm`]).
    pub nik_blur_mm: f32,
    pub upside_down: bool,
    /// The card's photo is where a mirrored card's would be ([`layout::looks_mirrored`]).
    pub looks_mirrored: bool,
}

/// Where one read spent its time, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    pub detect: f64,
    /// Straighten, measure and refuse, find the lines.
    pub layout: f64,
    pub cut: f64,
    pub recognize: f64,
    pub fields: f64,
}

/// One read line: its key, text and confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadLine {
    pub key: &'static str,
    pub text: String,
    pub confidence: f32,
    /// One per character of `text`.
    #[serde(skip)]
    pub char_confidences: Vec<f32>,
}

/// A successful read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scan {
    #[serde(flatten)]
    pub reading: KtpReading,
    #[serde(skip)]
    pub lines: Vec<ReadLine>,
    #[serde(skip)]
    pub quality: Quality,
    #[serde(skip)]
    pub timings: Timings,
}

/// The reader: the recogniser, loaded once, and the pipeline around it. `Sync`: one reader serves
/// every thread.
#[derive(Debug)]
pub struct KtpReader {
    recognizer: Recognizer,
    spelling: SpellingPrior,
    /// Another recogniser asked about doubtful name lines ([`KtpReader::with_second_opinion`]).
    second: Option<Recognizer>,
}

/// How the name and address lines are decoded: a beam search weighing the recogniser's reading
/// against how Indonesian words are spelled ([`crate::spelling`]). Chosen on held-out cards of
/// other seeds (3 and 5) than the one reported (2): on 300 hard cards of each, names read exactly
/// went from 118 and 113 (greedy) to 124-133 and 121-127 for weights 0.2-0.5 and bonuses 0.3-1.5;
/// a bonus of 1.5 inserted letters on seed 2 ("IMAM" read "IMAMI"), one near the prior's own mean
/// cost per character (0.3 x 1.56) does not.
pub const NAME_SPELLING: SpellingPrior = SpellingPrior {
    weight: 0.3,
    bonus: 0.45,
    beam: 12,
};

/// The accepted format and pixel size of image bytes, read from the header alone: oversized files,
/// other formats and pixel counts over [`MAX_PIXELS`] are refused before anything is allocated.
fn probe(bytes: &[u8]) -> Result<(ImageFormat, u32, u32), Refusal> {
    if bytes.len() > MAX_BYTES {
        return Err(Refusal::ImageTooLarge);
    }
    let format = image::guess_format(bytes).map_err(|_| Refusal::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(Refusal::NotAnImage);
    }
    let (w, h) = image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| Refusal::NotAnImage)?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Refusal::ImageTooLarge);
    }
    Ok((format, w, h))
}

/// Largest allocation a decoder may make: the pixels of the largest accepted photo and room for
/// its working buffers.
const MAX_DECODE_ALLOC: u64 = MAX_PIXELS * 4 + (64 << 20);

/// Decodes image bytes (JPEG, PNG or WebP, by content) into RGB, refusing oversized files and
/// pixel counts before allocating.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, Refusal> {
    let (format, w, h) = probe(bytes)?;
    decode_full(bytes, format, w, h)
}

/// Decodes bytes whose header [`probe`] read as `format`, `w` x `h`, at full size.
fn decode_full(bytes: &[u8], format: ImageFormat, w: u32, h: u32) -> Result<RgbImage, Refusal> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => Refusal::ImageTooLarge,
        _ => Refusal::NotAnImage,
    })?;
    Ok(img.into_rgb8())
}

/// Long side (pixels) from which a JPEG is decoded at half its size, and from twice this at a
/// quarter: a phone's 12-megapixel photo (4000 x 3000) is read at 2000 x 1500, where a card a
/// quarter of the photo wide is still 500 pixels wide, well over [`MIN_CARD_PX`].
pub const REDUCE_FROM: u32 = 3600;

/// Decodes like [`decode`], but a JPEG whose long side is at least [`REDUCE_FROM`] pixels at a
/// half or a quarter of its size, by the IDCT's own scaling: most of a large photo's decoding and
/// every later pass over its pixels are saved, and no reader step counts in the photo's pixels.
/// Returns the image and the factor it was reduced by (1: full size). A JPEG the scaling decoder
/// does not turn into RGB or grey (CMYK, 12-bit) or fails on is decoded at full size.
pub fn decode_reduced(bytes: &[u8]) -> Result<(RgbImage, u32), Refusal> {
    let (format, w, h) = probe(bytes)?;
    let long = w.max(h);
    let factor = if long >= 2 * REDUCE_FROM { 4 } else { 2 };
    if format == ImageFormat::Jpeg
        && long >= REDUCE_FROM
        && let Some(img) = decode_jpeg_scaled(bytes, w, h, factor)
    {
        return Ok((img, factor));
    }
    decode_full(bytes, format, w, h).map(|img| (img, 1))
}

/// A JPEG decoded at `1 / factor` of its `w` x `h` header size, or `None`.
fn decode_jpeg_scaled(bytes: &[u8], w: u32, h: u32, factor: u32) -> Option<RgbImage> {
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.set_max_decoding_buffer_size(usize::try_from(MAX_DECODE_ALLOC).ok()?);
    decoder.read_info().ok()?;
    let info = decoder.info()?;
    // The header both decoders read must agree (one file, one size).
    if (u32::from(info.width), u32::from(info.height)) != (w, h) {
        return None;
    }
    let want = |v: u32| u16::try_from(v.div_ceil(factor)).ok();
    let (sw, sh) = decoder.scale(want(w)?, want(h)?).ok()?;
    let pixels = decoder.decode().ok()?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => RgbImage::from_raw(sw, sh, pixels),
        jpeg_decoder::PixelFormat::L8 => {
            let rgb = pixels.iter().flat_map(|&v| [v, v, v]).collect();
            RgbImage::from_raw(sw, sh, rgb)
        }
        _ => None,
    }
}

/// Grey levels of an RGB image (ITU-R 601 weights, integer arithmetic).
pub fn to_gray(img: &RgbImage) -> GrayImage {
    let data: Vec<u8> = img
        .as_raw()
        .chunks_exact(3)
        .map(|p| {
            ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8) as u8
        })
        .collect();
    GrayImage::from_raw(img.width(), img.height(), data).unwrap_or_default()
}

impl KtpReader {
    /// A reader with the model compiled into the binary.
    pub fn shipped() -> Result<Self, RecognizerError> {
        Ok(Self::with_recognizer(Recognizer::shipped()?))
    }

    /// A reader with the models of a model directory (`training/train.sh`'s `OUT`): its
    /// recogniser, and as a second opinion on names the one in `dir/second`, if there is one.
    pub fn from_dir(dir: &std::path::Path) -> Result<Self, RecognizerError> {
        let reader = Self::with_recognizer(Recognizer::from_dir(dir)?);
        let second = dir.join(crate::recognizer::SECOND_DIR);
        Ok(if second.is_dir() {
            reader.with_second_opinion(Recognizer::from_dir(&second)?)
        } else {
            reader
        })
    }

    /// A reader with another recogniser (a model directory from a training run).
    pub fn with_recognizer(recognizer: Recognizer) -> Self {
        // The spelling model is learned here, once, and not on the first card.
        LazyLock::force(&REGISTER_SPELLING);
        KtpReader {
            recognizer,
            spelling: NAME_SPELLING,
            second: None,
        }
    }

    /// The same reader asking `second` (a recogniser trained apart) about every name line it
    /// read in doubt: both read the line, and the name is searched in the two readings together
    /// ([`read_jointly`]). Not the shipped reader's default: no training command makes a second
    /// model beside the shipped one yet (BENCHMARKS.md, 2026-12-06).
    pub fn with_second_opinion(mut self, second: Recognizer) -> Self {
        self.second = Some(second);
        self
    }

    /// The same reader without a second recogniser.
    pub fn without_second_opinion(mut self) -> Self {
        self.second = None;
        self
    }

    /// The same reader with another spelling prior on names and addresses (weight 0 turns it off).
    pub fn with_name_spelling(mut self, spelling: SpellingPrior) -> Self {
        self.spelling = spelling;
        self
    }

    /// Reads image file bytes. A large JPEG is read at a reduced size ([`decode_reduced`]); if
    /// no card was found there or it was too small, at its full size (a card small in the photo
    /// may be found and read only there).
    pub fn read_bytes(&self, bytes: &[u8]) -> Result<Scan, ScanError> {
        let (img, factor) = decode_reduced(bytes).map_err(ScanError::Refused)?;
        match self.read_image(&img) {
            Err(ScanError::Refused(Refusal::ImageTooSmall | Refusal::NotAKtp)) if factor > 1 => {
                drop(img);
                let img = decode(bytes).map_err(ScanError::Refused)?;
                self.read_image(&img)
            }
            read => read,
        }
    }

    /// Reads a decoded photo.
    pub fn read_image(&self, img: &RgbImage) -> Result<Scan, ScanError> {
        self.read(img, None)
    }

    /// Reads a decoded photo whose card corners (TL, TR, BR, BL, in image pixels) are already
    /// known, skipping the card finder: for corners the operator marked when the finder failed,
    /// and for scoring the rest of the reader on its own.
    pub fn read_image_at(
        &self,
        img: &RgbImage,
        corners: crate::geom::Quad,
    ) -> Result<Scan, ScanError> {
        self.read(img, Some(corners))
    }

    fn read(&self, img: &RgbImage, given: Option<crate::geom::Quad>) -> Result<Scan, ScanError> {
        let refuse = |r| Err(ScanError::Refused(r));
        if img.width().min(img.height()) < MIN_SIDE {
            return refuse(Refusal::ImageTooSmall);
        }
        let mut timings = Timings::default();
        let mut clock = Lap(Instant::now());
        let pyr = Pyramid::new(to_gray(img));
        // The best candidate first; when its layout fails, the other masks' candidates (a blob of
        // background can look more card-like than the card).
        let mut cards: Vec<FoundCard> = match given {
            Some(corners) => vec![FoundCard::given(corners, img.width(), img.height())],
            None => detect::find_card(img).into_iter().collect(),
        };
        clock.lap(&mut timings.detect);
        let mut first: Option<Refusal> = None;
        let mut guessed: Option<Refusal> = None;
        // Whether a candidate laid out but read as no KTP at all (`reads_as_no_ktp`).
        let mut no_ktp = false;
        // 0: the finder's best candidate; 1: the other masks' candidates; 2: guesses without an
        // outline: a close-up whose corners are outside the photo (the card as filling the
        // frame, at a few sizes), then a photocopy's card around its print.
        let mut stage = if given.is_some() { 2 } else { 0 };
        let mut guesses: Option<Vec<crate::geom::Quad>> = None;
        let mut i = 0;
        let mut scan = loop {
            if i == cards.len() {
                match stage {
                    0 => {
                        let best = cards.first().map(|c| c.corners);
                        cards.extend(other_candidates(img, best));
                    }
                    1 => cards.extend(
                        guesses
                            .get_or_insert_with(|| card_guesses(&pyr))
                            .iter()
                            .map(|&q| FoundCard::given(q, img.width(), img.height())),
                    ),
                    _ => {
                        let no_ktp = no_ktp.then_some(Refusal::NotAKtp);
                        return refuse(guessed.or(no_ktp).or(first).unwrap_or(Refusal::NotAKtp));
                    }
                }
                stage += 1;
                clock.lap(&mut timings.detect);
                continue;
            }
            i += 1;
            let found = locate(&pyr, &cards[i - 1], None);
            // The finder's best outline whose photo is where a mirrored card's would be is read
            // mirrored first (as it is, its rows make no sense, which takes a reading each way
            // up to tell).
            let mirrored = match &found {
                Ok((quality, _, _)) => mirrored_turn(quality),
                Err((_, _, mirrored)) => *mirrored,
            };
            // (Read so, both ways up, and nothing kept: not read mirrored again below.)
            let mut mirrored_tried = false;
            if stage == 0
                && i == 1
                && let Some(turn) = mirrored
            {
                clock.lap(&mut timings.layout);
                if let Some(scan) =
                    self.read_mirrored(&pyr, &cards[0], Some(turn), &mut timings, &mut clock)
                {
                    break scan;
                }
                mirrored_tried = true;
            }
            match found {
                Ok((quality, rect, boxes)) => {
                    clock.lap(&mut timings.layout);
                    let mut scan =
                        self.read_lines(&pyr, quality, &rect, &boxes, &mut timings, &mut clock)?;
                    // The half turn was told from where the photo is dark; a shadow or a
                    // background over one end can fool that. A reading that makes no sense
                    // is tried the other way round, and the more consistent of the two kept.
                    if reads_turned_wrong(&scan.reading)
                        && let Some(other) = self.read_other(
                            &pyr,
                            &cards[i - 1],
                            Some(!scan.quality.upside_down),
                            &mut timings,
                            &mut clock,
                        )
                        && other.consistency() > scan.consistency()
                    {
                        scan = other;
                    }
                    // The finder's best outline that reads as no KTP, or as nonsense either way
                    // round, may be a mirrored photo's card.
                    if stage == 0
                        && !mirrored_tried
                        && (reads_as_no_ktp(&scan.reading) || reads_turned_wrong(&scan.reading))
                        && let Some(mirrored) =
                            self.read_mirrored(&pyr, &cards[i - 1], None, &mut timings, &mut clock)
                    {
                        break mirrored;
                    }
                    // Rows that read as no KTP at all were print of something else (a wrong
                    // outline over a card's print, a page of other print): the search goes on.
                    if reads_as_no_ktp(&scan.reading) {
                        no_ktp = true;
                        continue;
                    }
                    // A reading that still makes little sense either way round may be of a
                    // wrong outline the finder scored above the card's own (seed 2's hard card
                    // 63: a shadow's, upside down, read with eleven warnings): the other masks'
                    // candidates (those not yet tried, when it is one of them) are read as well,
                    // and the most consistent reading kept.
                    if stage < 2 && reads_turned_wrong(&scan.reading) {
                        let rest = match stage {
                            0 => other_candidates(img, Some(cards[i - 1].corners)),
                            _ => cards[i..].to_vec(),
                        };
                        for card in rest {
                            if let Some(other) =
                                self.read_other(&pyr, &card, None, &mut timings, &mut clock)
                                && other.consistency() > scan.consistency()
                            {
                                scan = other;
                                cards[i - 1] = card;
                            }
                        }
                    }
                    break scan;
                }
                Err((refusal, laid_out, _)) => {
                    clock.lap(&mut timings.layout);
                    // A card whose layout was found but that is too dark, glared or blurred is
                    // refused for that. Without a layout the candidate may not be the card: the
                    // search goes on, and if nothing is found the best candidate's reason stands.
                    // The finder's best candidate aside, the next candidate or guess may be the
                    // card (on a photocopy, a blob of white paper lays out and reads as glare):
                    // the first such reason stands if none is.
                    if laid_out && stage == 0 {
                        // (A mirrored photo's NIK, read where a card's would be, looks blurred.)
                        if !mirrored_tried
                            && let Some(mirrored) = self.read_mirrored(
                                &pyr,
                                &cards[i - 1],
                                None,
                                &mut timings,
                                &mut clock,
                            )
                        {
                            break mirrored;
                        }
                        return refuse(refusal);
                    }
                    if laid_out {
                        guessed.get_or_insert(refusal);
                    }
                    // A guessed close-up that does not lay out says nothing of the photo (a
                    // flat dark photo is not a KTP, not a dark one).
                    if stage < 2 {
                        first.get_or_insert(refusal);
                    }
                }
            }
        };
        // A card that reaches across the photo from side to side may be a wrong outline of a
        // close-up whose real corners are outside it, and so may an outline nearly as wide or
        // as tall as the photo whose reading makes little sense: the close-up's reading is taken
        // instead when it is the more consistent. Among the close-up's sizes, the most
        // consistent reading is taken.
        let chosen = cards[i - 1].corners;
        let (w, h) = (img.width() as f32, img.height() as f32);
        let (x0, y0, x1, y1) = crate::geom::bounds(&chosen);
        let spans = ((x1 - x0) / w).max((y1 - y0) / h) >= CLOSE_UP_SPAN;
        let mut close_up = given.is_none() && stage == 2;
        if given.is_none()
            && (stage == 2
                || detect::clipped(&chosen, img.width(), img.height())
                || (spans && scan.reading.warnings.len() >= DOUBTFUL_WARNINGS))
        {
            for &guess in guesses.get_or_insert_with(|| card_guesses(&pyr)).iter() {
                // A reading without a warning is as consistent as any.
                if scan.reading.warnings.is_empty() {
                    break;
                }
                if guess == chosen {
                    continue;
                }
                let card = FoundCard::given(guess, img.width(), img.height());
                if let Some(other) = self.read_other(&pyr, &card, None, &mut timings, &mut clock)
                    && other.consistency() > scan.consistency()
                {
                    scan = other;
                    close_up = true;
                }
            }
        }
        // With no outline at all, a guessed card whose reading still makes little sense is a
        // photo of something else, or of a card too blurred to read: refused, not guessed at.
        if given.is_none() && stage == 2 && scan.reading.warnings.len() >= DOUBTFUL_WARNINGS {
            return refuse(first.unwrap_or(Refusal::NotAKtp));
        }
        // Fields laid out on a guessed card are for the operator to check.
        if close_up {
            for f in scan.reading.fields.fields_mut() {
                f.confidence *= CLOSE_UP_TRUST;
            }
            scan.reading.warnings.push(Warning::CardCornersOutside);
        }
        scan.timings = timings;
        Ok(scan)
    }

    /// The card of a mirrored photo, its print running right to left (some webcams and phones'
    /// front cameras save what their preview shows), read mirrored back: the outline's corners
    /// taken in the mirror's order, either way up (`first`: the way up its photo tells, read first
    /// and kept alone if it reads). The finder finds such a card, but its rows read as no KTP, or
    /// as nonsense, or its NIK looks blurred; so where the finder's best outline reads so, or its
    /// photo is where a mirrored card's would be, it is read mirrored. The mirrored reading is
    /// kept only when its NIK agrees with the printed birth date, sex and region (a photo of
    /// something else, or one too blurred to read, gives no such NIK), with the warning
    /// `photo_mirrored`. Only a clear outline ([`MIRRORED_FROM_SCORE`]) is read so.
    fn read_mirrored(
        &self,
        pyr: &Pyramid,
        card: &FoundCard,
        first: Option<bool>,
        timings: &mut Timings,
        clock: &mut Lap,
    ) -> Option<Scan> {
        if card.score < MIRRORED_FROM_SCORE {
            return None;
        }
        let c = card.corners;
        let mirrored = FoundCard {
            corners: [c[1], c[0], c[3], c[2]],
            ..card.clone()
        };
        // Either way up, the more consistent kept; `first`, the way up the card's photo tells,
        // kept alone when it reads.
        let told = first.is_some();
        let first = first.unwrap_or(false);
        let mut best: Option<Scan> = None;
        for turn in [first, !first] {
            if told && best.is_some() {
                break;
            }
            if let Some(scan) = self.read_other(pyr, &mirrored, Some(turn), timings, clock)
                && !scan.reading.fields.nik.value.is_empty()
                && !nik_disputed(&scan.reading)
                && !reads_as_no_ktp(&scan.reading)
                && best
                    .as_ref()
                    .is_none_or(|b| scan.consistency() > b.consistency())
            {
                best = Some(scan);
            }
        }
        let mut scan = best?;
        scan.reading.warnings.push(Warning::PhotoMirrored);
        Some(scan)
    }

    /// Another reading of one photo, of `card` turned as `turn` says (`None`: as its photo tells),
    /// if it lays out and reads: for choosing between two readings by [`Scan::consistency`].
    fn read_other(
        &self,
        pyr: &Pyramid,
        card: &FoundCard,
        turn: Option<bool>,
        timings: &mut Timings,
        clock: &mut Lap,
    ) -> Option<Scan> {
        let found = locate(pyr, card, turn);
        clock.lap(&mut timings.layout);
        let (quality, rect, boxes) = found.ok()?;
        self.read_lines(pyr, quality, &rect, &boxes, timings, clock)
            .ok()
    }

    /// Reads the located lines of a card and makes the fields of them (the recogniser, the
    /// line-quality refusal, the NIK repairs).
    /// One line's reading: its key's decoding ([`decode_line`]), then, for a name or an address,
    /// the spelling prior ([`read_with_spelling`]) unless it is turned off, and for a name, a
    /// title its first word nearly reads as ([`titled`]).
    fn decode(
        &self,
        key: &str,
        logits: &crate::recognizer::LineLogits,
    ) -> Result<crate::ctc::Decoded, RecognizerError> {
        let charset = self.recognizer.charset();
        let mut decoded = decode_line(key, logits, charset)?;
        if matches!(key, "name" | "address") && self.spelling.weight > 0.0 {
            decoded = read_with_spelling(key, logits, charset, decoded, self.spelling)?;
        }
        if key == "name" {
            decoded = titled(logits, charset, decoded)?;
        }
        Ok(decoded)
    }

    fn read_lines(
        &self,
        pyr: &Pyramid,
        quality: Quality,
        rect: &layout::Rectified,
        boxes: &[layout::LineBox],
        timings: &mut Timings,
        clock: &mut Lap,
    ) -> Result<Scan, ScanError> {
        let refuse = |r| Err(ScanError::Refused(r));
        let mut lap = |t: &mut f64| clock.lap(t);
        let charset = self.recognizer.charset();
        let mut lines = Vec::with_capacity(boxes.len());
        let mut line_quality = Vec::with_capacity(boxes.len());
        // Other readings of the NIK and the birth line: (line key, text, confidence, confidence
        // over the one read, on the greedy product's scale as the alternatives' own are).
        let mut tries: Vec<(&str, String, f32, f32)> = Vec::new();
        // The village line's probabilities and reading, for choosing among the district's
        // villages once the district is known.
        let mut village: Option<(crate::recognizer::LineLogits, String)> = None;
        for b in boxes {
            let crop = layout::cut(pyr, rect, b.rect, LINE_HEIGHT);
            lap(&mut timings.cut);
            let logits = self.recognizer.recognize(&crop)?;
            lap(&mut timings.recognize);
            line_quality.push(logits.mean_best_logp());
            let mut decoded = self.decode(b.key, &logits)?;
            if b.key == "name"
                && let Some(second) = &self.second
                && decoded.min_char_confidence() < SPELLING_SURE_AT
            {
                let other = second.recognize(&crop)?;
                decoded = read_jointly(&logits, &other, charset, decoded, self.spelling)
                    .map_err(RecognizerError::from)?;
            }
            let options = match b.key {
                "nik" => nik_alternatives(&decoded, &logits, charset),
                "birth" => birth_date_alternatives(&decoded, &logits, charset),
                _ => Vec::new(),
            };
            let read = decoded.confidence.max(f32::MIN_POSITIVE);
            tries.extend(options.into_iter().map(|(t, c)| (b.key, t, c, c / read)));
            let mut confidence = line_confidence(b.key, &decoded, &logits, charset);
            if b.cut {
                confidence = confidence.min(CUT_LINE_AT_MOST);
            }
            if b.key == "village" && village.is_none() {
                village = Some((logits, decoded.text.clone()));
            }
            lines.push(ReadLine {
                key: b.key,
                text: decoded.text,
                confidence,
                char_confidences: decoded.char_confidences,
            });
        }
        line_quality.sort_by(f32::total_cmp);
        let mut quality = quality;
        quality.line_quality = line_quality
            .get(line_quality.len() / 2)
            .copied()
            .unwrap_or(f32::NEG_INFINITY);
        if quality.line_quality < UNREADABLE_BELOW {
            return refuse(dim_or_blurred(&quality));
        }
        let mut raw_lines: Vec<(&str, RawLine)> = lines
            .iter()
            .map(|l| {
                let raw =
                    RawLine::with_chars(l.text.clone(), l.confidence, l.char_confidences.clone());
                (l.key, raw)
            })
            .collect();
        let mut reading = fields::read_fields(raw_lines.iter().map(|(k, l)| (*k, l)));
        // A NIK that disagrees with the card may be one misread digit, or the printed birth date
        // may be: the NIK's likeliest one- and two-digit changes and the printed date's one-digit
        // changes are tried, the one that gives up the least probability first, and the first that
        // makes the NIK agree with the printed birth date, sex and region is taken, with its own
        // (lower) confidence.
        if nik_disputed(&reading) {
            tries.sort_by(|a, b| b.3.total_cmp(&a.3));
            for (key, text, confidence, _) in tries {
                let Some(i) = raw_lines.iter().position(|(k, _)| *k == key) else {
                    continue;
                };
                let original =
                    std::mem::replace(&mut raw_lines[i].1, RawLine::repaired(text, confidence));
                let again = fields::read_fields(raw_lines.iter().map(|(k, l)| (*k, l)));
                if !nik_disputed(&again) {
                    reading = again;
                    break;
                }
                raw_lines[i].1 = original;
            }
        }
        if let Some((logits, read)) = &village {
            registered_village(&mut reading, logits, charset, read)
                .map_err(RecognizerError::from)?;
        }
        doubt_layout(&mut reading);
        lap(&mut timings.fields);
        Ok(Scan {
            reading,
            lines,
            quality,
            timings: Timings::default(),
        })
    }
}

/// Where the card may be when no outline of it was found: in a close-up of it
/// ([`detect::close_up_guesses`]), turned as its print runs, then around its print where the
/// photo shows no edge of it (a photocopy: [`layout::Print::box_guesses`]).
fn card_guesses(pyr: &Pyramid) -> Vec<crate::geom::Quad> {
    let base = pyr.base();
    let (w, h) = (base.width(), base.height());
    let coarse = pyr.coarse(SKEW_SIDE);
    let print = layout::Print::of(coarse);
    let mut out = detect::close_up_guesses(w, h, print.skew(h > w));
    let scale = w as f32 / coarse.width() as f32;
    out.extend(
        print
            .box_guesses()
            .into_iter()
            .map(|q| q.map(|[x, y]| [x * scale, y * scale])),
    );
    out
}

/// The longer side (px) of the pyramid level the print's skew is measured on.
const SKEW_SIDE: u32 = 520;

/// Lines whose confidence is the model's probability of the text as read (the CTC forward
/// sum over every alignment, [`crate::ctc::log_likelihood`]) instead of the greedy product of
/// characters and least-sure blanks. The greedy product's blank factor is there to doubt a
/// free-text line that may have dropped a half-seen letter, but it falls with the line's length:
/// it doubted a right NIK on a quarter of clean scans and a right name on nine in ten.
/// - NIK, RT/RW: read against a fixed template, which fixes the length.
/// - Province, regency: checked against the region table and the NIK's region code.
/// - Name, birth place and date: measured, not argued. With the probability, and a card whose
///   layout is doubted held under 0.9 ([`doubt_layout`]), no wrong name, birth place or birth
///   date was returned at 0.9 or more on 2 x 1,200 held-out cards (seeds 2 and 4, every tier),
///   against 284 of 300 right names on scans now sure (27 before) and 288 birth places (92).
/// - Address (since 2026-12-07, evening): each line its probability squared
///   ([`ADDRESS_POWER`]), the field their product. With the product, 27 of 1,544 right
///   addresses were sure (seed 2, six tiers): the operator was asked to check every one. With
///   the plain probability (tried that morning), 11 wrong ones of 5,400 cards were sure: a
///   close-up's last digit or a first "J" the line's box cut off (the boxes now follow such
///   letters, `layout::extent`), glare over the end of a line (now doubted, [`CUT_LINE_AT_MOST`]),
///   a letter misread ("E5" read "ES", "B7" read "87", "NO." read "NO"), each with a probability
///   of 0.91 to 0.93, under the 0.95 the square asks for.
///
/// The village keeps the product (a village snapped to the wrong entry of the register would
/// pass). `ktp-eval --dump`; BENCHMARKS.md.
const POSTERIOR_LINES: [&str; 7] = [
    "nik", "rt_rw", "province", "regency", "name", "birth", "address",
];

/// A read line's confidence: see [`POSTERIOR_LINES`].
fn line_confidence(
    key: &str,
    decoded: &crate::ctc::Decoded,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> f32 {
    if !POSTERIOR_LINES.contains(&key) {
        return decoded.confidence;
    }
    let power = if key == "address" { ADDRESS_POWER } else { 1.0 };
    match crate::ctc::log_likelihood(&logits.logp, logits.t, logits.c, charset, &decoded.text) {
        Ok(Some(l)) => (power * l).exp() as f32,
        _ => decoded.confidence,
    }
}

/// An address line's confidence is its probability to this power: sure (0.9) from a probability
/// of 0.95. See [`POSTERIOR_LINES`].
const ADDRESS_POWER: f64 = 2.0;

/// The most a line keeps of its confidence when faint print goes on past its box
/// ([`layout::LineBox::cut`]): what was read may be only part of it.
const CUT_LINE_AT_MOST: f32 = 0.5;

/// What a field read on a close-up (no corners in the photo) keeps of its confidence: below the
/// 0.9 at which a field counts as confident, so the operator looks at each.
const CLOSE_UP_TRUST: f32 = 0.85;

/// An outline reaching across this share of the photo's width or height may be a close-up's
/// wrong outline (a photo of a whole card leaves a margin; a hard photo's card is rarely this
/// large, and reading the guesses for every doubtful one cost the hard tier a fifth of its time).
const CLOSE_UP_SPAN: f32 = 0.9;

/// Whether a reading shows nothing of a KTP: its NIK is no valid NIK and none of the closed
/// vocabularies every KTP prints (sex, religion, marital status, nationality) was read as one of
/// its values. A KTP, however poorly photographed, that the reader gets this far with shows one of
/// them; a page of other print laid out as rows does not.
fn reads_as_no_ktp(r: &KtpReading) -> bool {
    let nik_invalid = r
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::NikInvalid(_)));
    let unknown = |key: &str| {
        r.warnings.iter().any(|w| {
            matches!(w, Warning::Missing(k) | Warning::UnknownValue(k) | Warning::Unreadable(k) if *k == key)
        })
    };
    nik_invalid
        && ["sex", "religion", "marital_status", "nationality"]
            .iter()
            .all(|k| unknown(k))
}

/// The other masks' card candidates the finder scores at least [`detect::MIN_SCORE`], up to
/// three, but the outline `read` already.
fn other_candidates(img: &RgbImage, read: Option<crate::geom::Quad>) -> Vec<FoundCard> {
    detect::candidates(img, true)
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| c.score >= detect::MIN_SCORE && Some(c.corners) != read)
        .take(3)
        .collect()
}

/// The finder's score from which its best outline that reads as no KTP or as nonsense is read
/// mirrored ([`KtpReader::read_mirrored`]): a mirrored photo's card has a clear outline (0.88 and
/// up on 40 mirrored photos), a photocopy's or a hard photo's blob seldom does, and reading those
/// mirrored too cost the copies a third of their time.
const MIRRORED_FROM_SCORE: f32 = 0.8;

/// A reading with this many warnings may come from a wrong outline (of a close-up).
const DOUBTFUL_WARNINGS: usize = 5;

/// Whether a reading may be of the card turned the wrong way: its NIK disputed and
/// [`DOUBTFUL_WARNINGS`] warnings or more (read upside down, the closed fields match nothing and
/// the NIK's digits name no region or date).
fn reads_turned_wrong(r: &KtpReading) -> bool {
    nik_disputed(r) && r.warnings.len() >= DOUBTFUL_WARNINGS
}

/// Missing fields from which a card's layout is doubted, and the most any field of it keeps.
const DOUBTED_LAYOUT_MISSING: usize = 2;
const DOUBTED_LAYOUT_TRUST: f32 = 0.5;
/// Missing fields and closed-vocabulary values matching none of their words from which a card's
/// layout is doubted: rows keyed one off (RT/RW's line taken for the village's, the marital
/// status for the religion) leave three or more.
const DOUBTED_LAYOUT_ODD: usize = 3;

/// A reading that misses fields was laid out from a wrong outline, or the photo cut the card, and
/// one whose closed-vocabulary values match none of their words besides had its rows keyed one
/// off: a line read clearly there may still be the wrong part of the card (a name without its
/// first letter, an RT/RW returned as the village, each read with a CTC probability of 0.95 or
/// more), so nothing on it is returned as sure.
fn doubt_layout(reading: &mut KtpReading) {
    let missing = reading
        .warnings
        .iter()
        .filter(|w| matches!(w, Warning::Missing(_)))
        .count();
    let unknown = reading
        .warnings
        .iter()
        .filter(|w| matches!(w, Warning::UnknownValue(_)))
        .count();
    if missing >= DOUBTED_LAYOUT_MISSING || missing + unknown >= DOUBTED_LAYOUT_ODD {
        for f in reading.fields.fields_mut() {
            f.confidence = f.confidence.min(DOUBTED_LAYOUT_TRUST);
        }
    }
}

/// A stopwatch whose laps are added to the stage they timed.
struct Lap(Instant);

impl Lap {
    fn lap(&mut self, t: &mut f64) {
        let now = Instant::now();
        *t += (now - self.0).as_secs_f64() * 1e3;
        self.0 = now;
    }
}

impl Scan {
    /// How well a reading agrees with itself, for choosing between two layouts of one photo:
    /// fewer warnings first, then the better median line.
    fn consistency(&self) -> (std::cmp::Reverse<usize>, f32) {
        (
            std::cmp::Reverse(self.reading.warnings.len()),
            self.quality.line_quality,
        )
    }
}

const D: &str = crate::ctc::NIK_CHARS;
/// A NIK: sixteen digits.
const NIK_TEMPLATE: [&str; 16] = [D; 16];
/// RT/RW as printed: `018/010`.
const RT_RW_TEMPLATE: [&str; 7] = [D, D, D, "/", D, D, D];
/// A printed date, `DD-MM-YYYY`.
const DATE_TEMPLATE: [&str; 10] = [D, D, "-", D, D, "-", D, D, D, D];

/// Decodes one line by what its field may hold: the NIK and RT/RW by their fixed formats (the best
/// reading of the right length and characters), the date after the birth line's comma and a
/// printed expiry date likewise, everything else greedily.
fn decode_line(
    key: &str,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    let fixed =
        |template: &[&str], fallback: &str| -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
            match logits.template(charset, template)? {
                Some(d) => Ok(d),
                None => logits.constrained(charset, fallback),
            }
        };
    match key {
        "nik" => fixed(&NIK_TEMPLATE, NIK_CHARS),
        "rt_rw" => fixed(&RT_RW_TEMPLATE, RT_RW_CHARS),
        "name" => logits.restricted(charset, crate::ctc::NAME_CHARS),
        "birth" => {
            let greedy = logits.greedy(charset)?;
            let Some(comma) = greedy.text.rfind(',') else {
                return Ok(greedy);
            };
            let mut template = vec![" "];
            template.extend(DATE_TEMPLATE);
            let date = logits
                .after_last(charset, ',')
                .map(|tail| tail.template(charset, &template))
                .transpose()?
                .flatten();
            let Some(date) = date else { return Ok(greedy) };
            let head = &greedy.text[..=comma];
            let n = head.chars().count();
            let mut confs: Vec<f32> = greedy.char_confidences[..n].to_vec();
            confs.extend(&date.char_confidences);
            Ok(crate::ctc::Decoded {
                text: format!("{head}{}", date.text),
                confidence: confs.iter().product(),
                char_confidences: confs,
                frames: Vec::new(),
            })
        }
        "valid_until" => {
            let greedy = logits.greedy(charset)?;
            if greedy.text.chars().filter(char::is_ascii_digit).count() >= 4
                && let Some(d) = logits.template(charset, &DATE_TEMPLATE)?
            {
                return Ok(d);
            }
            closed(logits, charset, greedy, &[fields::SEUMUR_HIDUP])
        }
        "blood_type" => blood_type(logits, charset),
        "sex" => closed(logits, charset, logits.greedy(charset)?, &vocab::SEX),
        "religion" => closed(logits, charset, logits.greedy(charset)?, &vocab::RELIGION),
        "marital_status" => closed(
            logits,
            charset,
            logits.greedy(charset)?,
            &vocab::MARITAL_STATUS,
        ),
        "nationality" => closed(
            logits,
            charset,
            logits.greedy(charset)?,
            &vocab::NATIONALITY,
        ),
        "occupation" => closed(
            logits,
            charset,
            logits.greedy(charset)?,
            fields::OCCUPATIONS,
        ),
        _ => logits.greedy(charset),
    }
}

/// The characters a blood type is printed with.
const BLOOD_TYPE_CHARS: &str = "ABO-";

/// The blood type: read in [`BLOOD_TYPE_CHARS`] and chosen among the values the model can spell
/// (it has no "+": the renderer never prints a rhesus, so the model never learned one), so a B the
/// model leans to read as 8 is still a B. It is as sure as the model's probability of the value on
/// the line, not its share among five values (which says little of a blurred line), and a dash
/// no surer than its greedy reading: where glare or blur wiped the letter, what is left may read
/// as one, and its probability summed over alignments returned four more wrong dashes sure on 900
/// hard cards.
fn blood_type(
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    let printable: Vec<&str> = vocab::BLOOD_TYPE
        .iter()
        .copied()
        .filter(|v| v.chars().all(|ch| charset.class_of(ch).is_some()))
        .collect();
    let free = logits.restricted(charset, BLOOD_TYPE_CHARS)?;
    let chosen = closed(logits, charset, free, &printable)?;
    let mut p = probability(logits, charset, &chosen.text)?;
    if chosen.text == "-" {
        p = p.min(logits.greedy(charset)?.confidence);
    }
    Ok(crate::ctc::Decoded::chosen(
        chosen.text,
        chosen.confidence.min(p),
    ))
}

/// The model's probability of `text` on the line: the CTC forward sum over every alignment (0 when
/// the line is too short to hold it).
fn probability(
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    text: &str,
) -> Result<f32, crate::ctc::CtcError> {
    Ok(
        crate::ctc::log_likelihood(&logits.logp, logits.t, logits.c, charset, text)?
            .map_or(0.0, |l| l.exp() as f32),
    )
}

/// Titles printed before a name: Haji, Hajjah, and the academic ones.
const NAME_TITLES: [&str; 6] = ["H.", "HJ.", "HM.", "DR.", "DRS.", "IR."];

/// How much likelier than its reading a title must be as the name's first word, by the
/// recogniser, for the title to be taken instead: a title is a common first word, and a thin
/// letter in it (the J of HJ.) is easily read as another or lost.
const TITLE_PRIOR: f64 = 4.0;

/// A name whose first word reads as nearly a title (`HI.`, `HIJ`, `HJ` for `HJ.`): the title
/// instead, at the recogniser's own probability of the line with it, when the recogniser finds
/// that line at least 1 / [`TITLE_PRIOR`] as likely as the one read. Titles two edits or less
/// from the word read are tried; a word read clearly ("IRA" for "IR.") keeps far more
/// probability than the prior makes up for.
fn titled(
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    read: crate::ctc::Decoded,
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    let (first, rest) = read.text.split_once(' ').unwrap_or((&read.text, ""));
    // A letter alone, with a dot or not, is an initial ("M.", "A.") or Bali's "I": a word in its
    // own right, one edit from a title.
    let letter_alone = first.trim_end_matches('.').chars().count() <= 1;
    if rest.is_empty() || letter_alone || NAME_TITLES.contains(&first) {
        return Ok(read);
    }
    let ll =
        |text: &str| crate::ctc::log_likelihood(&logits.logp, logits.t, logits.c, charset, text);
    let Some(read_ll) = ll(&read.text)? else {
        return Ok(read);
    };
    let mut best: Option<(String, f64)> = None;
    for title in NAME_TITLES {
        if fields::edit_distance(first, title) > 2 {
            continue;
        }
        let text = format!("{title} {rest}");
        if let Some(l) = ll(&text)?
            && l + TITLE_PRIOR.ln() > read_ll
            && best.as_ref().is_none_or(|b| l > b.1)
        {
            best = Some((text, l));
        }
    }
    Ok(match best {
        Some((text, l)) => crate::ctc::Decoded::chosen(text, l.exp() as f32),
        None => read,
    })
}

/// A name or address line read with the spelling prior: the beam search's reading (of an
/// address, only its words without digits: [`letters_only`]), at the recogniser's own probability
/// of it, or the greedy reading when the two agree.
fn read_with_spelling(
    key: &str,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    greedy: crate::ctc::Decoded,
    prior: SpellingPrior,
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    if greedy.min_char_confidence() >= SPELLING_SURE_AT {
        return Ok(greedy);
    }
    let allowed = if key == "name" {
        crate::ctc::NAME_CHARS
    } else {
        crate::ctc::KTP_CHARSET
    };
    let text = spelling::beam_search(
        &logits.logp,
        logits.t,
        logits.c,
        charset,
        allowed,
        &REGISTER_SPELLING,
        prior,
    )?;
    let mut text = text.trim().to_owned();
    if key != "name" {
        text = letters_only(&greedy.text, &text);
    }
    if text == greedy.text || text.is_empty() {
        return Ok(greedy);
    }
    let p = probability(logits, charset, &text)?;
    Ok(crate::ctc::Decoded::chosen(text, p))
}

/// A name line read by two recognisers together: the joint beam search's reading
/// ([`spelling::beam_search_joint`], with the spelling prior), at the first recogniser's own
/// probability of it, or `ours` when the search finds nothing else.
fn read_jointly(
    ours: &crate::recognizer::LineLogits,
    other: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    mine: crate::ctc::Decoded,
    prior: SpellingPrior,
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    if ours.t != other.t || ours.c != other.c {
        return Ok(mine);
    }
    let text = spelling::beam_search_joint(
        &[&ours.logp, &other.logp],
        ours.t,
        ours.c,
        charset,
        crate::ctc::NAME_CHARS,
        &REGISTER_SPELLING,
        prior,
    )?;
    let text = text.trim();
    if text == mine.text || text.is_empty() {
        return Ok(mine);
    }
    let p = probability(ours, charset, text)?;
    Ok(crate::ctc::Decoded::chosen(text.to_owned(), p))
}

/// A line whose every character the recogniser read at least this surely is not searched: the
/// prior (at most about 2.5 nats at the chosen weight) cannot outweigh a character read at 0.97
/// against the rest (3.5 nats).
const SPELLING_SURE_AT: f32 = 0.97;

/// The spelling prior's reading `spelled`, but with `greedy`'s word wherever either has a digit:
/// the prior judges letters, and "B5" against "85" is not a question of spelling. Readings with a
/// different number of words keep `greedy`.
fn letters_only(greedy: &str, spelled: &str) -> String {
    let (g, s): (Vec<&str>, Vec<&str>) =
        (greedy.split(' ').collect(), spelled.split(' ').collect());
    if g.len() != s.len() {
        return greedy.to_owned();
    }
    let digit = |w: &str| w.chars().any(|c| c.is_ascii_digit());
    g.iter()
        .zip(&s)
        .map(|(g, s)| if digit(g) || digit(s) { *g } else { *s })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a listed value is worth scoring against a line read as `free`: within half its length
/// (at least two edits) of the reading. The others' share of the probability is negligible, and
/// the forward pass over a long list is not.
fn near_reading(value: &str, free: &str) -> bool {
    fields::edit_distance(value, free) <= (value.chars().count() / 2).max(2)
}

/// The most a village that is none of its district's villages in the region table keeps (a village
/// renamed or created after the table, or a misread the register could not correct), and one of
/// two villages of the district a letter apart: below the 0.9 at which a field counts as sure, so
/// the operator checks it.
const UNREGISTERED_VILLAGE_AT_MOST: f32 = 0.85;

/// How much likelier a village is to be in the register than not, a priori: a registered village
/// is taken over a free reading up to this many times likelier by the model (a letter the model
/// leans the wrong way on). Its confidence stays the model's own probability of it.
const REGISTER_PRIOR: f64 = 10.0;

/// The village as one of the printed district's villages (Kemendagri's register, compiled in).
/// The likeliest village by the model is taken unless the free reading is more than
/// [`REGISTER_PRIOR`] times likelier; its confidence is the model's probability of its spelling
/// (the CTC forward sum, as for the lines of [`POSTERIOR_LINES`]): the register chooses the
/// spelling, it does not make a blurred line sure. The free reading stands, doubted, when no
/// village of the district comes close. Nothing changes when the district is not known (not read,
/// or not a district of the card's regency).
fn registered_village(
    reading: &mut KtpReading,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    read: &str,
) -> Result<(), crate::ctc::CtcError> {
    let Some(code) = reading.district_code else {
        return Ok(());
    };
    let field = &mut reading.fields.village;
    let free = read.trim();
    if field.value.is_empty() || free.is_empty() {
        return Ok(());
    }
    let ll =
        |text: &str| crate::ctc::log_likelihood(&logits.logp, logits.t, logits.c, charset, text);
    // A district has 10 villages at the median and 108 at most; only those near the reading are
    // scored ([`near_reading`]).
    let mut near: Vec<(String, f64)> = Vec::new();
    for v in crdt_schema::region::villages_of(code).map(str::to_uppercase) {
        if near_reading(&v, free)
            && let Some(l) = ll(&v)?
        {
            near.push((v, l));
        }
    }
    let free_ll = ll(free)?.unwrap_or(f64::NEG_INFINITY);
    let Some((best, best_ll)) = near
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, l)| l + REGISTER_PRIOR.ln() >= free_ll)
    else {
        field.confidence = field.confidence.min(UNREGISTERED_VILLAGE_AT_MOST);
        return Ok(());
    };
    // Villages one letter apart ("WIRALAGA I" and "WIRALAGA II"): a stroke lost to blur makes one
    // the other with the model sure of it, so the operator checks.
    let sibling = near
        .iter()
        .any(|(v, _)| v != best && fields::edit_distance(v, best) <= 1);
    let p = best_ll.exp() as f32;
    field.value = best.clone();
    field.confidence = if sibling {
        p.min(UNREGISTERED_VILLAGE_AT_MOST)
    } else {
        p
    };
    Ok(())
}

/// A line from a closed (or, for occupations, a common) vocabulary: the entry the model finds
/// likeliest, with its share of the probability of all entries and of the free reading as its
/// confidence. The free reading stands when it is likelier than every entry (a misprint or an
/// occupation not on the list; the fields step snaps or warns as for any text).
fn closed(
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    greedy: crate::ctc::Decoded,
    vocab: &[&str],
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    let free = greedy.text.trim();
    // Only entries near the free reading are scored ([`near_reading`]). (A short list is scored
    // whole: a line whose greedy reading lost most letters may still be likeliest one of them.)
    let mut near: Vec<&str> = vocab
        .iter()
        .copied()
        .filter(|v| near_reading(v, free))
        .collect();
    if near.is_empty() {
        if vocab.len() > 12 {
            return Ok(greedy);
        }
        near = vocab.to_vec();
    }
    match crate::ctc::choose(&logits.logp, logits.t, logits.c, charset, &near, free)? {
        Some((i, p)) => Ok(crate::ctc::Decoded::chosen(near[i].to_owned(), p)),
        None => Ok(greedy),
    }
}

/// Straightens one candidate card, measures it, refuses what cannot be read honestly and finds
/// its lines. `turn` says whether the card is upside down; `None` tells it from the photo
/// ([`layout::looks_upside_down`]). On failure the first bool says whether the layout was found
/// (the refusal is then final); the option, when the card looks mirrored
/// ([`Quality::looks_mirrored`]), which way up to read it mirrored ([`mirrored_turn`]).
#[allow(clippy::type_complexity)]
fn locate(
    pyr: &Pyramid,
    card: &FoundCard,
    turn: Option<bool>,
) -> Result<(Quality, layout::Rectified, Vec<layout::LineBox>), (Refusal, bool, Option<bool>)> {
    let mut quality = Quality {
        card_score: card.score,
        card_width_px: card_width(card),
        ..Quality::default()
    };
    if quality.card_width_px < MIN_CARD_PX {
        return Err((Refusal::ImageTooSmall, false, None));
    }
    let Some(mut rect) = layout::rectify(pyr, &card.corners, false) else {
        return Err((Refusal::NotAKtp, false, None));
    };
    if turn.unwrap_or_else(|| layout::looks_upside_down(&rect))
        && let Some(turned) = layout::rectify(pyr, &card.corners, true)
    {
        rect = turned;
        quality.upside_down = true;
    }
    quality.looks_mirrored = layout::looks_mirrored(&rect);
    let raw = rect.image.as_raw();
    quality.mean = raw.iter().map(|&p| f32::from(p)).sum::<f32>() / raw.len().max(1) as f32;
    let ink = Ink::new(&rect.image);
    quality.contrast = ink.contrast;
    quality.nik_glare = layout::glare_on_nik(&rect.image);
    quality.nik_blur_mm = layout::nik_blur_mm(&rect.image);
    let boxes = layout::find_lines(&ink);
    let laid_out = boxes.is_ok();
    let refusal = if quality.mean < MIN_CARD_MEAN {
        Some(Refusal::TooDark)
    } else if ink.contrast < MIN_CONTRAST {
        Some(dim_or_blurred(&quality))
    } else if quality.nik_glare > MAX_NIK_GLARE {
        Some(Refusal::GlareOnNik)
    } else if quality.nik_blur_mm > MAX_NIK_BLUR_MM && (laid_out || quality.nik_blur_mm.is_finite())
    {
        // (No print at all where the NIK goes, and no layout: not a KTP rather than blurred.)
        Some(Refusal::TooBlurred)
    } else {
        None
    };
    match (boxes, refusal) {
        (Ok(b), None) => Ok((quality, rect, b)),
        (_, Some(r)) => Err((r, laid_out, mirrored_turn(&quality))),
        (Err(_), None) => Err((Refusal::NotAKtp, false, mirrored_turn(&quality))),
    }
}

/// Which way up a card that looks mirrored is read mirrored back ([`KtpReader::read_mirrored`]),
/// if it looks so: its photo, on the left, made [`layout::looks_upside_down`] turn it, so the
/// mirrored reading is the other way up from the one laid out.
fn mirrored_turn(q: &Quality) -> Option<bool> {
    q.looks_mirrored.then_some(!q.upside_down)
}

/// Why text that cannot be read is unreadable: a dim card is too dark, a bright one too blurred.
fn dim_or_blurred(q: &Quality) -> Refusal {
    if q.mean < DIM_CARD_MEAN {
        Refusal::TooDark
    } else {
        Refusal::TooBlurred
    }
}

/// Whether the reading carries a warning about the NIK (invalid, or disagreeing with the card).
fn nik_disputed(r: &KtpReading) -> bool {
    r.warnings.iter().any(|w| w.code().starts_with("nik"))
}

/// Readings of the NIK that differ from the best one in one or two digits, likeliest first, with
/// their confidences: at each digit's timestep the runner-up digit, ranked by how much probability
/// it loses; the eight best single changes and the pairs of the four best.
fn nik_alternatives(
    best: &crate::ctc::Decoded,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> Vec<(String, f32)> {
    let chars: Vec<char> = best.text.chars().collect();
    if chars.len() != 16 || best.frames.len() != 16 {
        return Vec::new();
    }
    // (position, digit, probability ratio to the chosen digit)
    let mut singles: Vec<(usize, char, f32)> = Vec::new();
    for (j, &f) in best.frames.iter().enumerate() {
        if let Some((d, ratio)) = runner_up_digit(logits, f, chars[j], charset) {
            singles.push((j, d, ratio));
        }
    }
    singles.sort_by(|a, b| b.2.total_cmp(&a.2));
    let with = |changes: &[(usize, char, f32)]| {
        let mut c = chars.clone();
        let mut conf = best.confidence;
        for &(j, d, r) in changes {
            c[j] = d;
            conf *= r.min(1.0);
        }
        (c.into_iter().collect::<String>(), conf)
    };
    let mut out: Vec<(String, f32)> = singles.iter().take(8).map(|s| with(&[*s])).collect();
    let top: Vec<_> = singles.iter().take(4).copied().collect();
    for a in 0..top.len() {
        for b in a + 1..top.len() {
            out.push(with(&[top[a], top[b]]));
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// The likeliest other digit at timestep `frame` than the `chosen` character, and its probability as a
/// fraction of the chosen one's.
fn runner_up_digit(
    logits: &crate::recognizer::LineLogits,
    frame: usize,
    chosen: char,
    charset: &crate::ctc::Charset,
) -> Option<(char, f32)> {
    let row = logits.logp.get(frame * logits.c..(frame + 1) * logits.c)?;
    let lp_chosen = charset
        .class_of(chosen)
        .map_or(f32::NEG_INFINITY, |k| row[k]);
    NIK_CHARS
        .chars()
        .filter(|&d| d != chosen)
        .filter_map(|d| charset.class_of(d).map(|k| (d, row[k])))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(d, lp)| (d, (lp - lp_chosen).exp()))
}

/// Readings of the birth line whose printed date differs in one digit, likeliest first, with their
/// confidences: the date after the comma is decoded again by its template to know each digit's
/// timestep, and each digit's runner-up is ranked by how much probability it loses.
fn birth_date_alternatives(
    best: &crate::ctc::Decoded,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> Vec<(String, f32)> {
    let Some(comma) = best.text.rfind(',') else {
        return Vec::new();
    };
    let mut template = vec![" "];
    template.extend(DATE_TEMPLATE);
    let Some(tail) = logits.after_last(charset, ',') else {
        return Vec::new();
    };
    let Ok(Some(date)) = tail.template(charset, &template) else {
        return Vec::new();
    };
    let chars: Vec<char> = date.text.chars().collect();
    if chars.len() != template.len() || date.frames.len() != chars.len() {
        return Vec::new();
    }
    let head = &best.text[..=comma];
    let mut out = Vec::new();
    for (j, &f) in date.frames.iter().enumerate() {
        if !chars[j].is_ascii_digit() {
            continue;
        }
        if let Some((d, ratio)) = runner_up_digit(&tail, f, chars[j], charset) {
            let mut c = chars.clone();
            c[j] = d;
            let ratio = ratio.min(1.0);
            out.push((
                format!("{head}{}", c.into_iter().collect::<String>()),
                best.confidence * ratio,
            ));
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.truncate(6);
    out
}

fn card_width(card: &FoundCard) -> f32 {
    let c = &card.corners;
    0.5 * (crate::geom::dist(c[0], c[1]) + crate::geom::dist(c[3], c[2]))
}

/// One line of `clinic-node ocr` output and the body of `POST /api/v1/ktp/scan`.
#[derive(Debug, Clone, Serialize)]
pub struct ScanOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub ok: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub scan: Option<Scan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    pub elapsed_ms: f64,
}

/// The `error` object of a refused or failed read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl ScanOutput {
    /// Reads `bytes` and times it, folding refusals and failures into the output.
    pub fn read(reader: &KtpReader, file: Option<String>, bytes: &[u8]) -> Self {
        let start = Instant::now();
        let result = reader.read_bytes(bytes);
        let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
        let elapsed_ms = (elapsed_ms * 10.0).round() / 10.0;
        match result {
            Ok(scan) => ScanOutput {
                file,
                ok: true,
                scan: Some(scan),
                error: None,
                elapsed_ms,
            },
            Err(ScanError::Refused(r)) => ScanOutput {
                file,
                ok: false,
                scan: None,
                error: Some(ErrorBody {
                    code: r.code().to_owned(),
                    message: r.message().to_owned(),
                }),
                elapsed_ms,
            },
            Err(ScanError::Recognizer(_)) => ScanOutput {
                elapsed_ms,
                file,
                ..Self::unavailable()
            },
        }
    }

    /// The answer when the reader itself failed (the model did not load or run).
    pub fn unavailable() -> Self {
        ScanOutput {
            file: None,
            ok: false,
            scan: None,
            error: Some(ErrorBody {
                code: READER_FAILED.to_owned(),
                message: "Pembaca KTP gagal; coba lagi atau isi data secara manual. / The KTP reader failed; try again or type the fields in.".to_owned(),
            }),
            elapsed_ms: 0.0,
        }
    }
}

/// A readable summary of one output: the file, then each field with its confidence and the
/// warnings, or the refusal.
pub fn summary(out: &ScanOutput) -> String {
    let mut s = format!(
        "{} ({:.1} ms)\n",
        out.file.as_deref().unwrap_or("-"),
        out.elapsed_ms
    );
    match (&out.scan, &out.error) {
        (Some(scan), _) => {
            for (k, f) in scan.reading.fields.pairs() {
                s.push_str(&format!("  {k:<15} {:<40} {:.3}\n", f.value, f.confidence));
            }
            let w: Vec<String> = scan.reading.warnings.iter().map(|w| w.code()).collect();
            s.push_str(&format!(
                "  peringatan / warnings: {}",
                if w.is_empty() {
                    "-".to_owned()
                } else {
                    w.join(", ")
                }
            ));
        }
        (None, Some(e)) => s.push_str(&format!("  ditolak / refused: {} - {}", e.code, e.message)),
        (None, None) => {}
    }
    s
}

/// The error code of a read that failed through no fault of the photo.
pub const READER_FAILED: &str = "reader_failed";

#[cfg(test)]
mod tests {
    use super::*;

    /// Log-probabilities that spell `text`, one peaked timestep per character with a blank between,
    /// and at the timestep of character `doubt` the runner-up `(char, probability)`.
    fn spelled(
        charset: &crate::ctc::Charset,
        text: &str,
        doubt: Option<(usize, char, f32)>,
    ) -> crate::recognizer::LineLogits {
        let c = charset.num_classes();
        let mut logp = Vec::new();
        let row = |k: usize, second: Option<(usize, f32)>| {
            let mut r = vec![(1e-6f32).ln(); c];
            match second {
                Some((k2, p2)) => {
                    r[k] = (1.0 - p2).ln();
                    r[k2] = p2.ln();
                }
                None => r[k] = 0.0,
            }
            r
        };
        for (i, ch) in text.chars().enumerate() {
            let k = charset.class_of(ch).expect("char in charset");
            let second = doubt
                .filter(|d| d.0 == i)
                .map(|d| (charset.class_of(d.1).unwrap(), d.2));
            logp.extend(row(k, second));
            logp.extend(row(0, None));
        }
        crate::recognizer::LineLogits {
            t: logp.len() / c,
            c,
            logp,
        }
    }

    #[test]
    fn a_blood_type_is_one_of_the_values_as_sure_as_the_model_is_of_it() {
        let charset = crate::recognizer::Recognizer::shipped()
            .unwrap()
            .charset()
            .clone();
        // A B the model takes for an 8 (0.6) before a B (0.4): greedy reads "8", no blood type.
        let logits = spelled(&charset, "8", Some((0, 'B', 0.4)));
        assert_eq!(logits.greedy(&charset).unwrap().text, "8");
        let read = decode_line("blood_type", &logits, &charset).unwrap();
        assert_eq!(read.text, "B");
        // As sure as the model is of a B on that line, not of a B among A, B, AB, O and -.
        assert!((read.confidence - 0.4).abs() < 0.01, "{}", read.confidence);
        // A clear AB stays sure.
        let read = decode_line("blood_type", &spelled(&charset, "AB", None), &charset).unwrap();
        assert_eq!(read.text, "AB");
        assert!(read.confidence > 0.99, "{}", read.confidence);
        // A dash is no surer than its greedy reading: a wiped letter may leave one. Here its
        // greedy product (the dash, then the least sure blank, 0.7) is below the 0.9 of a sure field
        // though every alignment of "-" together is more.
        let mut dash = spelled(&charset, "-", None);
        let c = dash.c;
        dash.logp[c] = 0.7f32.ln();
        dash.logp[c + charset.class_of('-').unwrap()] = 0.3f32.ln();
        let read = decode_line("blood_type", &dash, &charset).unwrap();
        assert_eq!(read.text, "-");
        assert!(read.confidence < 0.9, "{}", read.confidence);
    }

    #[test]
    fn a_first_word_read_nearly_as_a_title_is_the_title() {
        let charset = crate::recognizer::Recognizer::shipped()
            .unwrap()
            .charset()
            .clone();
        let read = |logits: &crate::recognizer::LineLogits| {
            titled(logits, &charset, logits.greedy(&charset).unwrap()).unwrap()
        };
        // HJ.'s J taken for an I (0.7) before a J (0.3): HJ. at 0.3 of the line, HI. at 0.7.
        let logits = spelled(&charset, "HI. SITI", Some((1, 'J', 0.3)));
        let hj = read(&logits);
        assert_eq!(hj.text, "HJ. SITI");
        // At the recogniser's own probability of it: not sure.
        assert!((hj.confidence - 0.3).abs() < 0.01, "{}", hj.confidence);
        // The same letter with J at 0.1 (HJ. 7 times less likely than HI.): the reading stands.
        let logits = spelled(&charset, "HI. SITI", Some((1, 'J', 0.1)));
        assert_eq!(read(&logits).text, "HI. SITI");
        // A first word read clearly keeps its letters, whatever title is near it.
        for name in ["IRA SUSANTI", "DRA SUSANTI", "HI SUSANTI"] {
            assert_eq!(read(&spelled(&charset, name, None)).text, name);
        }
        // A name of one word is no title's.
        let logits = spelled(&charset, "HI.", Some((1, 'J', 0.4)));
        assert_eq!(read(&logits).text, "HI.");
        // An initial is a word of its own: "A." stays though H. is as likely.
        let logits = spelled(&charset, "A. RAHMAN", Some((0, 'H', 0.45)));
        assert_eq!(read(&logits).text, "A. RAHMAN");
    }

    #[test]
    fn a_doubtful_printed_digit_is_offered_as_an_alternative() {
        let charset = crate::recognizer::Recognizer::shipped()
            .unwrap()
            .charset()
            .clone();
        let text = "MALANG, 24-03-1967";
        // The year's last digit: read as 7, with 1 as a strong runner-up.
        let logits = spelled(&charset, text, Some((text.len() - 1, '1', 0.4)));
        let best = decode_line("birth", &logits, &charset).unwrap();
        assert_eq!(best.text, text);
        let alts = birth_date_alternatives(&best, &logits, &charset);
        assert_eq!(alts[0].0, "MALANG, 24-03-1961");
        let ratio = alts[0].1 / best.confidence;
        assert!((ratio - 0.4 / 0.6).abs() < 0.01, "{ratio}");
        // Only the date's digits are offered, never the place or the dashes.
        assert!(
            alts.iter()
                .all(|(t, _)| t.starts_with("MALANG, ") && t.len() == text.len())
        );
        // A line without a date has none.
        let plain = spelled(&charset, "MALANG", None);
        let best = decode_line("birth", &plain, &charset).unwrap();
        assert!(birth_date_alternatives(&best, &plain, &charset).is_empty());
    }

    #[test]
    fn the_village_is_one_of_the_printed_districts_or_doubted() {
        let charset = crate::ctc::Charset::ktp();
        // The fields of a card with these header, NIK, village and district lines.
        let fields_of = |[province, regency, nik, village, district]: [&str; 5]| {
            let lines: Vec<(&str, RawLine)> = [
                ("province", province),
                ("regency", regency),
                ("nik", nik),
                ("village", village),
                ("district", district),
            ]
            .into_iter()
            .map(|(k, v)| (k, RawLine::new(v, 0.8)))
            .collect();
            fields::read_fields(lines.iter().map(|(k, l)| (*k, l)))
        };
        // Kabupaten Malang, Dau (350722): its villages include Sumbersekar and Selorejo.
        let card = |village: &str| {
            fields_of([
                "PROVINSI JAWA TIMUR",
                "KABUPATEN MALANG",
                "3507224903820003",
                village,
                "DAU",
            ])
        };
        // Read clearly: the register's own spelling, sure.
        let mut reading = card("SUMBERSEKAR");
        assert_eq!(reading.district_code, Some("350722"));
        let logits = spelled(&charset, "SUMBERSEKAR", None);
        registered_village(&mut reading, &logits, &charset, "SUMBERSEKAR").unwrap();
        assert_eq!(reading.fields.village.value, "SUMBERSEKAR");
        assert!(reading.fields.village.confidence > 0.99);
        // One letter the model leans the wrong way on (F at 0.55, E at 0.45): the register's
        // spelling, at the model's probability of it (not sure).
        let mut reading = card("SUMBFRSEKAR");
        let logits = spelled(&charset, "SUMBFRSEKAR", Some((4, 'E', 0.45)));
        registered_village(&mut reading, &logits, &charset, "SUMBFRSEKAR").unwrap();
        assert_eq!(reading.fields.village.value, "SUMBERSEKAR");
        let p = reading.fields.village.confidence;
        assert!((p - 0.45).abs() < 0.01, "{p}");
        // A clear reading of a name the district does not have stands, for the operator to check.
        let mut reading = card("SUMBERSARI");
        let logits = spelled(&charset, "SUMBERSARI", None);
        registered_village(&mut reading, &logits, &charset, "SUMBERSARI").unwrap();
        assert_eq!(reading.fields.village.value, "SUMBERSARI");
        assert!(reading.fields.village.confidence <= UNREGISTERED_VILLAGE_AT_MOST);
        // Kabupaten Mesuji, Mesuji (181101) has WIRALAGA I and WIRALAGA II: a clear reading of
        // one of them is still for the operator to check.
        let mut reading = fields_of([
            "PROVINSI LAMPUNG",
            "KABUPATEN MESUJI",
            "1811013009650969",
            "WIRALAGA I",
            "MESUJI",
        ]);
        assert_eq!(reading.district_code, Some("181101"));
        let logits = spelled(&charset, "WIRALAGA I", None);
        registered_village(&mut reading, &logits, &charset, "WIRALAGA I").unwrap();
        assert_eq!(reading.fields.village.value, "WIRALAGA I");
        assert!(reading.fields.village.confidence <= UNREGISTERED_VILLAGE_AT_MOST);
        // No district known (a district of another regency): nothing changes.
        let mut reading = card("SUMBFRSEKAR");
        reading.district_code = None;
        let before = reading.clone();
        let logits = spelled(&charset, "SUMBFRSEKAR", Some((4, 'E', 0.45)));
        registered_village(&mut reading, &logits, &charset, "SUMBFRSEKAR").unwrap();
        assert_eq!(reading, before);
    }

    #[test]
    fn a_doubtful_letter_is_spelled_as_the_register_spells_and_stays_unsure() {
        let charset = crate::ctc::Charset::ktp();
        let read = |logits: &crate::recognizer::LineLogits| {
            let greedy = decode_line("name", logits, &charset).unwrap();
            read_with_spelling("name", logits, &charset, greedy, NAME_SPELLING).unwrap()
        };
        // The last letter is V at 0.55 or U at 0.45: the register's spelling decides, and the
        // reading keeps the recogniser's own probability of it.
        let doubtful = spelled(&charset, "SUKAMAJV", Some((7, 'U', 0.45)));
        let r = read(&doubtful);
        assert_eq!(r.text, "SUKAMAJU");
        assert!((r.confidence - 0.45).abs() < 0.01, "{}", r.confidence);
        // Read clearly, the same spelling stands, at the greedy reading's confidence.
        let clear = spelled(&charset, "SUKAMAJV", None);
        let r = read(&clear);
        assert_eq!(r.text, "SUKAMAJV");
        assert!(r.confidence > 0.99);
        // Without the prior, the doubtful line is read as the recogniser leans.
        let greedy = decode_line("name", &doubtful, &charset).unwrap();
        let off = SpellingPrior {
            weight: 0.0,
            bonus: 0.0,
            ..NAME_SPELLING
        };
        let r = read_with_spelling("name", &doubtful, &charset, greedy, off).unwrap();
        assert_eq!(r.text, "SUKAMAJV");
    }

    #[test]
    fn a_second_recogniser_settles_a_doubtful_name_only_when_it_is_surer() {
        let charset = crate::ctc::Charset::ktp();
        // The likelihoods alone: no spelling prior.
        let plain = SpellingPrior {
            weight: 0.0,
            bonus: 0.0,
            beam: 12,
        };
        let joint = |ours: &crate::recognizer::LineLogits, other| {
            let mine = decode_line("name", ours, &charset).unwrap();
            read_jointly(ours, other, &charset, mine, plain).unwrap()
        };
        // Ours leans to LAJA (J 0.55, I 0.45); the other reads LAIA with I at 0.9: together
        // LAIA is likelier (0.45 x 0.9 against 0.55 x 0.1), at our own probability of it.
        let ours = spelled(&charset, "LAJA", Some((2, 'I', 0.45)));
        let other = spelled(&charset, "LAIA", Some((2, 'J', 0.1)));
        let r = joint(&ours, &other);
        assert_eq!(r.text, "LAIA");
        assert!((r.confidence - 0.45).abs() < 0.01, "{}", r.confidence);
        // The other's peaks a frame later (a blank first): its alignments are its own, and the
        // reading is the same.
        let mut late = other.clone();
        let mut first = vec![(1e-6f32).ln(); late.c];
        first[0] = 0.0;
        late.logp.splice(0..0, first);
        late.logp.truncate(late.t * late.c);
        assert_eq!(joint(&ours, &late).text, "LAIA");
        // With the other barely leaning to LAIA (I 0.52, J 0.48), LAJA stays likelier together
        // (0.55 x 0.48 against 0.45 x 0.52) and ours stands.
        let weak = spelled(&charset, "LAIA", Some((2, 'J', 0.48)));
        assert_eq!(joint(&ours, &weak).text, "LAJA");
        // Agreeing readings are kept as read, at our probability.
        let same = spelled(&charset, "LAJA", None);
        let r = joint(&ours, &same);
        assert_eq!(r.text, "LAJA");
        assert!((r.confidence - 0.55).abs() < 0.01, "{}", r.confidence);
        // Readings of different lengths (another crop width) are not searched together.
        let short = crate::recognizer::LineLogits {
            t: same.t - 1,
            c: same.c,
            logp: same.logp[same.c..].to_vec(),
        };
        assert_eq!(joint(&ours, &short).text, "LAJA");
    }

    #[test]
    fn an_address_takes_the_spelling_only_of_its_words_without_digits() {
        // The prior's reading changes a letter in a word and a digit in another: only the first
        // is taken.
        assert_eq!(
            letters_only("JL. MERDIKA BLOK B5 NO. 12", "JL. MERDEKA BLOK 85 NO. 12"),
            "JL. MERDEKA BLOK B5 NO. 12"
        );
        // A reading with another number of words is not matched word for word: the greedy stands.
        assert_eq!(letters_only("DUSUN KRAJAN", "DUSUNKRAJAN"), "DUSUN KRAJAN");
        assert_eq!(letters_only("", ""), "");
    }

    #[test]
    fn a_template_line_is_as_sure_as_its_text_a_free_line_as_its_least_sure_blank() {
        let charset = crate::ctc::Charset::ktp();
        let c = charset.num_classes();
        // "018/010" with every letter certain and each following blank frame a quarter the
        // letter's trailing edge (a slightly blurred print): every alignment spells the text.
        let text = "018/010";
        let mut logp = Vec::new();
        for ch in text.chars() {
            let k = charset.class_of(ch).unwrap();
            let mut letter = vec![(1e-6f32).ln(); c];
            letter[k] = 0.0;
            let mut edge = vec![(1e-6f32).ln(); c];
            edge[crate::ctc::BLANK] = 0.75f32.ln();
            edge[k] = 0.25f32.ln();
            logp.extend(letter);
            logp.extend(edge);
        }
        let logits = crate::recognizer::LineLogits {
            t: logp.len() / c,
            c,
            logp,
        };
        let templated = decode_line("rt_rw", &logits, &charset).unwrap();
        assert_eq!(templated.text, text);
        let sure = line_confidence("rt_rw", &templated, &logits, &charset);
        assert!(sure > 0.99, "{sure}");
        // The same frames as a free-text line keep the greedy product: seven blanks at 0.75.
        let free = decode_line("village", &logits, &charset).unwrap();
        let doubted = line_confidence("village", &free, &logits, &charset);
        assert!((doubted - 0.75f32.powi(7)).abs() < 0.01, "{doubted}");
    }

    #[test]
    fn an_address_line_is_as_sure_as_its_text_s_probability_squared() {
        let charset = crate::ctc::Charset::ktp();
        // "GG. 12" with its first letter 0.9 itself and 0.1 an "X": the text's probability is 0.9.
        let text = "GG. 12";
        let logits = spelled(&charset, text, Some((0, 'X', 0.1)));
        let read = decode_line("address", &logits, &charset).unwrap();
        assert_eq!(read.text, text);
        let name = line_confidence("name", &read, &logits, &charset);
        let address = line_confidence("address", &read, &logits, &charset);
        assert!((name - 0.9).abs() < 0.01, "{name}");
        assert!((address - 0.81).abs() < 0.01, "{address}");
    }

    /// A clean card's lines, but `skip`, with `swap`'s texts in place of theirs, read and doubted
    /// as the reader does.
    fn read_card(skip: &[&str], swap: &[(&str, &str)]) -> KtpReading {
        let lines = [
            ("province", "JAWA TIMUR"),
            ("regency", "KABUPATEN MALANG"),
            ("nik", "3507220903820003"),
            ("name", "BUDI SANTOSO"),
            ("birth", "MALANG, 09-03-1982"),
            ("sex", "LAKI-LAKI"),
            ("blood_type", "O"),
            ("address", "JL. MAWAR 1"),
            ("rt_rw", "001/002"),
            ("village", "SUMBERSARI"),
            ("district", "KEPANJEN"),
            ("religion", "ISLAM"),
            ("marital_status", "KAWIN"),
            ("occupation", "PETANI"),
            ("nationality", "WNI"),
            ("valid_until", "SEUMUR HIDUP"),
        ];
        let raw: Vec<(&str, RawLine)> = lines
            .iter()
            .filter(|(k, _)| !skip.contains(k))
            .map(|(k, t)| {
                let t = swap.iter().find(|(s, _)| s == k).map_or(*t, |(_, t)| *t);
                (*k, RawLine::new(t, 0.99))
            })
            .collect();
        let mut r = fields::read_fields(raw.iter().map(|(k, l)| (*k, l)));
        doubt_layout(&mut r);
        r
    }

    #[test]
    fn a_card_missing_fields_or_with_rows_keyed_off_returns_nothing_as_sure() {
        let nothing_sure =
            |r: &KtpReading| r.fields.pairs().iter().all(|(_, f)| f.confidence <= 0.5);
        // One field missing: the others keep their confidence.
        let one = read_card(&["religion"], &[]);
        assert!(one.fields.name.confidence > 0.9, "{:?}", one.fields.name);
        // Two missing: the layout is doubted, nothing is sure.
        let two = read_card(&["religion", "nationality"], &[]);
        assert!(nothing_sure(&two), "{:?}", two.fields);
        assert_eq!(two.fields.name.value, "BUDI SANTOSO");
        // Rows keyed one off: RT/RW missing, and the lines below it under the wrong labels (the
        // marital status read as the religion, the occupation as the marital status).
        let shifted = read_card(
            &["rt_rw"],
            &[("religion", "KAWIN"), ("marital_status", "PETANI")],
        );
        assert!(nothing_sure(&shifted), "{:?}", shifted.warnings);
    }

    #[test]
    fn print_of_something_else_reads_as_no_ktp_a_misread_ktp_does_not() {
        // A KTP misread in places is still a KTP; print of something else read as rows is not:
        // no valid NIK and none of sex, religion, marital status and nationality known.
        assert!(!reads_as_no_ktp(&read_card(&[], &[])));
        let garbage = [
            ("nik", "0387048400198710"),
            ("sex", "XQZXQZ"),
            ("religion", "XQZXQZ"),
            ("nationality", "XQZXQZ"),
        ];
        let page = read_card(&["marital_status"], &garbage);
        assert!(reads_as_no_ktp(&page), "{:?}", page.warnings);
        // One of them known, or the NIK valid: a KTP, however poorly read.
        assert!(!reads_as_no_ktp(&read_card(
            &["marital_status"],
            &garbage[..3]
        )));
        assert!(!reads_as_no_ktp(&read_card(
            &["marital_status"],
            &garbage[1..]
        )));
    }

    #[test]
    fn garbage_and_unsupported_formats_are_not_images() {
        assert_eq!(decode(b"hello"), Err(Refusal::NotAnImage));
        assert_eq!(decode(b""), Err(Refusal::NotAnImage));
        // A GIF header is recognised but not accepted.
        assert_eq!(decode(b"GIF89a\x01\x00\x01\x00"), Err(Refusal::NotAnImage));
        // A truncated PNG.
        assert_eq!(
            decode(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Err(Refusal::NotAnImage)
        );
    }

    fn jpeg_of(img: &image::DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(img)
            .expect("encode");
        out
    }

    #[test]
    fn large_jpegs_are_decoded_reduced_others_at_full_size() {
        // A colour 12-megapixel-class photo: half size, the same picture.
        let rgb = RgbImage::from_fn(3600, 2000, |x, _| image::Rgb([(x / 15) as u8, 90, 200]));
        let jpeg = jpeg_of(&image::DynamicImage::ImageRgb8(rgb));
        let (img, factor) = decode_reduced(&jpeg).expect("decodes");
        assert_eq!((factor, img.width(), img.height()), (2, 1800, 1000));
        let full = decode(&jpeg).expect("decodes");
        for x in [10u32, 900, 1790] {
            let (a, b) = (img.get_pixel(x, 500), full.get_pixel(2 * x, 1000));
            for c in 0..3 {
                assert!(a.0[c].abs_diff(b.0[c]) <= 6, "{x}: {a:?} against {b:?}");
            }
        }
        // A grey JPEG comes back as RGB too.
        let grey = GrayImage::from_pixel(2000, 3700, image::Luma([77]));
        let (img, factor) =
            decode_reduced(&jpeg_of(&image::DynamicImage::ImageLuma8(grey))).expect("decodes");
        assert_eq!((factor, img.width(), img.height()), (2, 1000, 1850));
        assert!(
            img.get_pixel(500, 900)
                .0
                .iter()
                .all(|&v| v.abs_diff(77) <= 2)
        );
        // Twice the threshold: a quarter.
        let wide = GrayImage::from_pixel(2 * REDUCE_FROM, 400, image::Luma([150]));
        let (img, factor) =
            decode_reduced(&jpeg_of(&image::DynamicImage::ImageLuma8(wide))).expect("decodes");
        assert_eq!(
            (factor, img.width(), img.height()),
            (4, REDUCE_FROM / 2, 100)
        );
        // Just under the threshold, and a PNG of any size: full size.
        let small = RgbImage::from_pixel(REDUCE_FROM - 1, 400, image::Rgb([1, 2, 3]));
        let (img, factor) =
            decode_reduced(&jpeg_of(&image::DynamicImage::ImageRgb8(small))).unwrap();
        assert_eq!((factor, img.width()), (1, REDUCE_FROM - 1));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(RgbImage::new(4000, 300))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert_eq!(
            decode_reduced(&png).map(|(i, f)| (f, i.width())),
            Ok((1, 4000))
        );
        // Refusals are decode's.
        assert_eq!(decode_reduced(b"hello"), Err(Refusal::NotAnImage));
        assert_eq!(
            decode_reduced(&vec![0u8; MAX_BYTES + 1]),
            Err(Refusal::ImageTooLarge)
        );
        // A truncated large JPEG is taken or refused as the full-size decoder takes it.
        let cut = &jpeg[..jpeg.len() / 3];
        assert_eq!(decode_reduced(cut).is_ok(), decode(cut).is_ok());
    }

    #[test]
    fn a_png_claiming_huge_dimensions_is_refused_before_decoding() {
        // IHDR for 100000 x 100000 (CRC wrong on purpose: the size check comes first or the
        // decoder refuses; both end in a refusal, never an allocation).
        let mut png = Vec::new();
        png.extend_from_slice(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        let r = decode(&png);
        assert!(
            matches!(r, Err(Refusal::ImageTooLarge | Refusal::NotAnImage)),
            "{r:?}"
        );
        let big = vec![0u8; MAX_BYTES + 1];
        assert_eq!(decode(&big), Err(Refusal::ImageTooLarge));
    }

    #[test]
    fn refusal_codes_are_stable_and_messages_say_it_in_indonesian_first() {
        for r in Refusal::ALL {
            assert_eq!(r.to_string(), r.code());
            assert_eq!(Refusal::from_code(r.code()), Some(r));
            assert!(r.message().contains(" / "));
        }
    }

    #[test]
    fn gray_weights_match_the_usual_luma() {
        let img = RgbImage::from_raw(3, 1, vec![255, 0, 0, 0, 255, 0, 10, 20, 30]).unwrap();
        let g = to_gray(&img);
        assert_eq!(g.as_raw(), &vec![77, 149, 18]);
    }
}
