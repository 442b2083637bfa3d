//! The KTP reader: image bytes to validated fields, or a refusal with a reason.
//!
//! decode (bounded size and pixel count; a large JPEG at a reduced size) -> find the card (`detect`) -> straighten it, turning it
//! if upside down (`layout::rectify`) -> refuse what cannot be read honestly (too small, too dark,
//! too blurred, glare over the NIK, no KTP layout) -> find the lines (`layout::find_lines`) -> read
//! each with the recogniser (digits-only decoding for the NIK and RT/RW) -> `fields::read_fields`.
//!
//! Nothing here keeps the image: it lives in the caller's buffer and in this call's locals only.

mod input;
mod lines;
mod output;
mod refusal;
mod repair;

pub use input::{MAX_BYTES, MAX_PIXELS, REDUCE_FROM, decode, decode_reduced, to_gray};
pub use lines::NAME_SPELLING;
pub use output::{ErrorBody, READER_FAILED, ScanOutput, summary};
pub use refusal::{Refusal, ScanError};

use std::sync::LazyLock;
use std::time::Instant;

use image::RgbImage;
use serde::Serialize;

use crate::detect::{self, FoundCard};
use crate::fields::{self, KtpReading, RawLine, Warning};
use crate::layout::{self, Ink, Pyramid};
use crate::recognizer::{LINE_HEIGHT, Recognizer, RecognizerError};
use crate::spelling::{PERSON_NAME_SPELLING, REGISTER_SPELLING, SpellingPrior};
use lines::{
    SPELLING_SURE_AT, decode_line, first_word_for_sex, line_confidence, read_jointly,
    read_with_spelling, registered_village, titled,
};
use repair::{birth_date_alternatives, nik_alternatives, nik_disputed};

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
    /// Cutting the line crops out of the photo.
    pub cut: f64,
    /// The recognisers and the decoding of what they read (the spelling search, the name model's
    /// readings of a doubtful name).
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
    /// The name model, asked about doubtful name lines ([`KtpReader::with_second_opinion`]).
    second: Option<Recognizer>,
}

impl KtpReader {
    /// A reader with the models compiled into the binary: the line model, and the name model as
    /// the second opinion on doubtful names.
    pub fn shipped() -> Result<Self, RecognizerError> {
        Ok(Self::with_recognizer(Recognizer::shipped()?)
            .with_second_opinion(Recognizer::shipped_names()?))
    }

    /// A reader with the models of a model directory (`training/train.sh`'s `OUT`): its
    /// recogniser, and as the second opinion on names the one in `dir/names`, if there is one.
    pub fn from_dir(dir: &std::path::Path) -> Result<Self, RecognizerError> {
        let reader = Self::with_recognizer(Recognizer::from_dir(dir)?);
        let second = dir.join(crate::recognizer::NAMES_DIR);
        Ok(if second.is_dir() {
            reader.with_second_opinion(Recognizer::from_dir(&second)?)
        } else {
            reader
        })
    }

    /// A reader with another recogniser (a model directory from a training run).
    pub fn with_recognizer(recognizer: Recognizer) -> Self {
        // The spelling models are learned here, once, and not on the first card.
        LazyLock::force(&REGISTER_SPELLING);
        LazyLock::force(&PERSON_NAME_SPELLING);
        KtpReader {
            recognizer,
            spelling: NAME_SPELLING,
            second: None,
        }
    }

    /// The same reader asking `second` (the name model, or any recogniser with the same charset)
    /// about every name line it read in doubt: `second` reads the line as cut and cut
    /// [`NAME_RECUT`] line heights higher and lower, and the name is searched in its three
    /// readings and the first recogniser's together ([`read_jointly`]). The shipped reader asks
    /// the shipped name model (BENCHMARKS.md, 2026-12-07 night and 2026-12-08).
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
        // The name line's probabilities, for its title once the card's sex is known.
        let mut name: Option<crate::recognizer::LineLogits> = None;
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
                // The name model reads the line as cut, and cut a little higher and lower: a
                // blurred letter that one cut leaves in doubt, another may not.
                let [x0, y0, x1, y1] = b.rect;
                let dy = NAME_RECUT * (y1 - y0);
                let recut =
                    |dy: f32| layout::cut(pyr, rect, [x0, y0 + dy, x1, y1 + dy], LINE_HEIGHT);
                let readings = [
                    second.recognize(&crop)?,
                    second.recognize(&recut(-dy))?,
                    second.recognize(&recut(dy))?,
                ];
                let all: Vec<_> = std::iter::once(&logits).chain(&readings).collect();
                decoded = read_jointly(&all, charset, decoded, self.spelling)
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
            if b.key == "name" && name.is_none() {
                name = Some(logits.clone());
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
            lap(&mut timings.recognize);
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
        if let Some(logits) = &name {
            first_word_for_sex(&mut reading, logits, charset).map_err(RecognizerError::from)?;
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

/// How far (in line heights) the name model's two more cuts of a doubtful name line lie above and
/// below the line's box: the three readings of the name model and the line model's are searched
/// together. 0.06 read 182 + 167 hard names of 600 on seeds 3 and 5, against 177 + 158 without the
/// two cuts, and on seed 3, 181 at 0.03 and 178 at 0.12 (BENCHMARKS.md, 2026-12-08).
const NAME_RECUT: f32 = 0.06;

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

fn card_width(card: &FoundCard) -> f32 {
    let c = &card.corners;
    0.5 * (crate::geom::dist(c[0], c[1]) + crate::geom::dist(c[3], c[2]))
}

/// Recogniser outputs built by hand, for the line-decoding tests.
#[cfg(test)]
pub(crate) mod test_logits {
    /// Log-probabilities that spell `text`, one peaked timestep per character with a blank between,
    /// and at the timestep of character `doubt` the runner-up `(char, probability)`.
    pub(crate) fn spelled(
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_shipped_reader_asks_the_name_model_and_can_be_told_not_to() {
        let reader = KtpReader::shipped().expect("shipped models load");
        assert!(reader.second.is_some());
        assert!(reader.without_second_opinion().second.is_none());
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
}
