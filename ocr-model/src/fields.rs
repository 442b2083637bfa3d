//! From recognised KTP line texts (keyed by field, with confidences) to the final fields of the scan
//! JSON (`{value, confidence}` per key) and named warnings: OCR clean-up, parsing of the birth line,
//! dates and RT/RW, snapping of closed vocabularies and region names, and NIK cross-checks against
//! the printed birth date, sex and region (through `crdt_schema::nik` and `crdt_schema::region`).
//!
//! # Input keys
//! The keys are those of the renderer's `labels.jsonl` lines: `province` (header, "PROVINSI ..."),
//! `regency` (header), `nik`, `name`, `birth` ("PLACE, DD-MM-YYYY"), `sex`, `blood_type`, `address`
//! (once per printed line, in order), `rt_rw`, `village`, `district`, `religion`, `marital_status`,
//! `occupation`, `nationality`, `valid_until`. Unknown keys are ignored.
//!
//! # Confidences
//! A field starts with its line's confidence (the product over wrapped address lines). Snapping a
//! value at edit distance `d` to a canonical value of `n` characters multiplies it by `1 - d / n`.
//! A value that cannot be parsed or snapped where it must be (dates, RT/RW, closed vocabularies) is
//! kept as read, with its confidence halved and a warning. An invalid NIK, or one that disagrees
//! with the printed date, sex or region, is capped at 0.5.
//!
//! # Snapping thresholds
//! Closed vocabularies and the districts of one regency: a third of the canonical length. The one
//! province or regency the NIK names: a quarter. Whole lists (all provinces, all regencies when the
//! NIK disagrees or is unreadable, birth places against regency names): a sixth. In every case the
//! closest value must be unique, or nothing is snapped. Free text (names, villages, addresses) is
//! never snapped here; in words holding a letter, look-alike digits become letters (not in
//! addresses, where house numbers mix both). The village is chosen among the printed district's
//! villages afterwards, by the reader, from the line's probabilities ([`KtpReading::district_code`]).

use crdt_schema::nik::{Nik, Sex};
use crdt_schema::patient::vocab;
use crdt_schema::region;
use serde::{Serialize, Serializer};

/// Words an address does not end with: each wants a name or a number after it ("NO." its house
/// number, "GG." its lane's name). An address read ending in one lost its end (a wrapped line the
/// layout did not find, a close-up's edge): it keeps at most [`UNFINISHED_ADDRESS_AT_MOST`].
const UNFINISHED_ADDRESS_WORDS: [&str; 22] = [
    "NO.",
    "NO",
    "JL.",
    "JLN.",
    "JALAN",
    "GG.",
    "GANG",
    "BLOK",
    "KOMPLEKS",
    "KOMP.",
    "PERUM",
    "LORONG",
    "DUSUN",
    "DSN.",
    "KP.",
    "KAMPUNG",
    "LINGKUNGAN",
    "DEKAT",
    "RT",
    "RW",
    "RT.",
    "RW.",
];
const UNFINISHED_ADDRESS_AT_MOST: f32 = 0.5;

/// Whether a read address ends in a word that wants more after it ([`UNFINISHED_ADDRESS_WORDS`]).
fn unfinished_address(text: &str) -> bool {
    text.split(' ')
        .next_back()
        .is_some_and(|w| UNFINISHED_ADDRESS_WORDS.contains(&w))
}

/// Keys of the printed lines [`read_fields`] takes, top to bottom (a wrapped address gives two
/// lines with the key `address`).
pub const LINE_KEYS: [&str; 16] = [
    "province",
    "regency",
    "nik",
    "name",
    "birth",
    "sex",
    "blood_type",
    "address",
    "rt_rw",
    "village",
    "district",
    "religion",
    "marital_status",
    "occupation",
    "nationality",
    "valid_until",
];

/// One recognised line: its text and its line confidence in `[0, 1]`, with each character's
/// confidence when the recogniser gave them, and whether it is a repair (a runner-up reading put
/// in place of what was read, to make the NIK agree with the card).
#[derive(Debug, Clone, PartialEq)]
pub struct RawLine {
    pub text: String,
    pub confidence: f32,
    pub chars: Vec<f32>,
    pub repaired: bool,
}

impl RawLine {
    pub fn new(text: impl Into<String>, confidence: f32) -> Self {
        RawLine {
            text: text.into(),
            confidence,
            chars: Vec::new(),
            repaired: false,
        }
    }

    /// A line with a confidence per character (one per `char` of `text`).
    pub fn with_chars(text: impl Into<String>, confidence: f32, chars: Vec<f32>) -> Self {
        RawLine {
            chars,
            ..RawLine::new(text, confidence)
        }
    }

    /// A runner-up reading put in place of the line as read.
    pub fn repaired(text: impl Into<String>, confidence: f32) -> Self {
        RawLine {
            repaired: true,
            ..RawLine::new(text, confidence)
        }
    }
}

/// The most a NIK or birth date may claim after a repair: a repair makes the card agree with
/// itself, which the checks can then no longer vouch for.
pub const REPAIRED_AT_MOST: f32 = 0.8;

/// A final field value and its confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub value: String,
    pub confidence: f32,
}

impl Field {
    fn new(value: impl Into<String>, confidence: f32) -> Self {
        Field {
            value: value.into(),
            confidence: if confidence.is_nan() {
                0.0
            } else {
                confidence.clamp(0.0, 1.0)
            },
        }
    }

    fn missing() -> Self {
        Field::new("", 0.0)
    }
}

/// The 17 fields of the scan JSON, in contract order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KtpFields {
    pub nik: Field,
    pub name: Field,
    pub birth_place: Field,
    pub birth_date: Field,
    pub sex: Field,
    pub blood_type: Field,
    pub address: Field,
    pub rt_rw: Field,
    pub village: Field,
    pub district: Field,
    pub regency: Field,
    pub province: Field,
    pub religion: Field,
    pub marital_status: Field,
    pub occupation: Field,
    pub nationality: Field,
    pub valid_until: Field,
}

/// The 17 field keys of the scan JSON, in contract order.
pub const FIELD_KEYS: [&str; 17] = [
    "nik",
    "name",
    "birth_place",
    "birth_date",
    "sex",
    "blood_type",
    "address",
    "rt_rw",
    "village",
    "district",
    "regency",
    "province",
    "religion",
    "marital_status",
    "occupation",
    "nationality",
    "valid_until",
];

/// The fields of a `KtpFields` in contract order (as `FIELD_KEYS`), each borrowed with the
/// given tokens (`&` or `&mut`).
macro_rules! in_order {
    ($s:ident, $($borrow:tt)+) => {
        [
            $($borrow)+ $s.nik,
            $($borrow)+ $s.name,
            $($borrow)+ $s.birth_place,
            $($borrow)+ $s.birth_date,
            $($borrow)+ $s.sex,
            $($borrow)+ $s.blood_type,
            $($borrow)+ $s.address,
            $($borrow)+ $s.rt_rw,
            $($borrow)+ $s.village,
            $($borrow)+ $s.district,
            $($borrow)+ $s.regency,
            $($borrow)+ $s.province,
            $($borrow)+ $s.religion,
            $($borrow)+ $s.marital_status,
            $($borrow)+ $s.occupation,
            $($borrow)+ $s.nationality,
            $($borrow)+ $s.valid_until,
        ]
    };
}

impl KtpFields {
    /// `(key, field)` pairs in contract order.
    pub fn pairs(&self) -> [(&'static str, &Field); 17] {
        let f = in_order!(self, &);
        std::array::from_fn(|i| (FIELD_KEYS[i], f[i]))
    }

    /// Every field, in contract order, to change in place.
    pub fn fields_mut(&mut self) -> [&mut Field; 17] {
        in_order!(self, &mut)
    }
}

/// A named disagreement or doubt. Serialises as its code, e.g. `"nik_birth_date_mismatch"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// The NIK failed `crdt_schema::nik` validation; the payload is `NikError::code()`
    /// (`nik_length`, `nik_not_digits`, `nik_unknown_province`, `nik_birth_date`, `nik_zero_serial`).
    NikInvalid(&'static str),
    /// The NIK's date digits disagree with the printed birth date.
    NikBirthDateMismatch,
    /// The NIK's day (+40 for women) disagrees with the printed sex.
    NikSexMismatch,
    /// The NIK's province code does not name the printed province.
    NikProvinceMismatch,
    /// The NIK's regency code does not name the printed regency or city.
    NikRegencyMismatch,
    /// The printed regency is the NIK's, but the printed district is another district of it.
    NikDistrictMismatch,
    /// The NIK's regency or district code is not in the region table.
    NikUnknownRegion,
    /// No text was read for this field.
    Missing(&'static str),
    /// The text could not be parsed into this field's format (dates, RT/RW, birth line).
    Unreadable(&'static str),
    /// The text is not close to any value of this field's closed vocabulary.
    UnknownValue(&'static str),
    /// The card's corners were not in the photo (a close-up): where the fields are was inferred
    /// from the frame, so a field may have lost a letter at its edge.
    CardCornersOutside,
    /// The photo was mirrored (the camera saved its preview): it was read mirrored back. The
    /// fields are as sure as on any photo; the code tells the clinic the camera mirrors.
    PhotoMirrored,
}

impl Warning {
    /// The stable code: `nik_*` codes as listed, `missing_<field>`, `unreadable_<field>`,
    /// `unknown_value_<field>`, `card_corners_outside_photo`, `photo_mirrored`.
    pub fn code(&self) -> String {
        match self {
            Warning::NikInvalid(code) => (*code).to_owned(),
            Warning::NikBirthDateMismatch => "nik_birth_date_mismatch".to_owned(),
            Warning::NikSexMismatch => "nik_sex_mismatch".to_owned(),
            Warning::NikProvinceMismatch => "nik_province_mismatch".to_owned(),
            Warning::NikRegencyMismatch => "nik_regency_mismatch".to_owned(),
            Warning::NikDistrictMismatch => "nik_district_mismatch".to_owned(),
            Warning::NikUnknownRegion => "nik_unknown_region".to_owned(),
            Warning::Missing(f) => format!("missing_{f}"),
            Warning::Unreadable(f) => format!("unreadable_{f}"),
            Warning::UnknownValue(f) => format!("unknown_value_{f}"),
            Warning::CardCornersOutside => "card_corners_outside_photo".to_owned(),
            Warning::PhotoMirrored => "photo_mirrored".to_owned(),
        }
    }
}

impl Serialize for Warning {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code())
    }
}

/// The fields and the warnings of one card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KtpReading {
    pub fields: KtpFields,
    pub warnings: Vec<Warning>,
    /// The region-table code of the printed district, when its name snapped to a district of the
    /// card's regency: whose villages the village line is chosen among (by the reader, which has
    /// the line's probabilities).
    #[serde(skip)]
    pub district_code: Option<&'static str>,
}

impl KtpReading {
    /// Whether a warning with this code was raised.
    pub fn has_warning(&self, code: &str) -> bool {
        self.warnings.iter().any(|w| w.code() == code)
    }
}

/// Common occupations as the population register prints them (an open list: a value far from all
/// of them is kept as read, without a warning).
pub const OCCUPATIONS: &[&str] = &[
    "BELUM/TIDAK BEKERJA",
    "MENGURUS RUMAH TANGGA",
    "PELAJAR/MAHASISWA",
    "PENSIUNAN",
    "PEGAWAI NEGERI SIPIL (PNS)",
    "PEGAWAI NEGERI SIPIL",
    "TENTARA NASIONAL INDONESIA",
    "TENTARA NASIONAL INDONESIA (TNI)",
    "KEPOLISIAN RI",
    "KEPOLISIAN RI (POLRI)",
    "PERDAGANGAN",
    "PETANI/PEKEBUN",
    "PETERNAK",
    "NELAYAN/PERIKANAN",
    "INDUSTRI",
    "KONSTRUKSI",
    "TRANSPORTASI",
    "KARYAWAN SWASTA",
    "KARYAWAN BUMN",
    "KARYAWAN BUMD",
    "KARYAWAN HONORER",
    "BURUH HARIAN LEPAS",
    "BURUH TANI/PERKEBUNAN",
    "BURUH NELAYAN/PERIKANAN",
    "BURUH PETERNAKAN",
    "PEMBANTU RUMAH TANGGA",
    "TUKANG CUKUR",
    "TUKANG LISTRIK",
    "TUKANG BATU",
    "TUKANG KAYU",
    "TUKANG SOL SEPATU",
    "TUKANG LAS/PANDAI BESI",
    "TUKANG JAHIT",
    "TUKANG GIGI",
    "PENATA RIAS",
    "PENATA BUSANA",
    "PENATA RAMBUT",
    "MEKANIK",
    "SENIMAN",
    "TABIB",
    "PARAJI",
    "PERANCANG BUSANA",
    "PENTERJEMAH",
    "IMAM MASJID",
    "PENDETA",
    "PASTOR",
    "WARTAWAN",
    "USTADZ/MUBALIGH",
    "JURU MASAK",
    "PROMOTOR ACARA",
    "ANGGOTA DPR-RI",
    "ANGGOTA DPD",
    "ANGGOTA BPK",
    "PRESIDEN",
    "WAKIL PRESIDEN",
    "ANGGOTA MAHKAMAH KONSTITUSI",
    "DUTA BESAR",
    "GUBERNUR",
    "WAKIL GUBERNUR",
    "BUPATI",
    "WAKIL BUPATI",
    "WALIKOTA",
    "WAKIL WALIKOTA",
    "ANGGOTA DPRD PROVINSI",
    "ANGGOTA DPRD KABUPATEN/KOTA",
    "DOSEN",
    "GURU",
    "PILOT",
    "PENGACARA",
    "NOTARIS",
    "ARSITEK",
    "AKUNTAN",
    "KONSULTAN",
    "DOKTER",
    "BIDAN",
    "PERAWAT",
    "APOTEKER",
    "PSIKIATER/PSIKOLOG",
    "PENYIAR TELEVISI",
    "PENYIAR RADIO",
    "PELAUT",
    "PENELITI",
    "SOPIR",
    "PIALANG",
    "PARANORMAL",
    "PEDAGANG",
    "PERANGKAT DESA",
    "KEPALA DESA",
    "BIARAWATI",
    "WIRASWASTA",
    "LAINNYA",
];

/// The printed value of a card that never expires.
pub const SEUMUR_HIDUP: &str = "SEUMUR HIDUP";

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate within `max_dist(candidate length)`, if it is the unique closest.
/// Returns the candidate and the distance.
fn snap<'a>(
    text: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max_dist: fn(usize) -> usize,
) -> Option<(&'a str, usize)> {
    let mut best: Option<(&'a str, usize)> = None;
    let mut tie = false;
    for c in candidates {
        let d = edit_distance(text, c);
        if d > max_dist(c.chars().count()) {
            continue;
        }
        match best {
            Some((b, bd)) if d == bd && b != c => tie = true,
            Some((_, bd)) if d >= bd => {}
            _ => {
                best = Some((c, d));
                tie = false;
            }
        }
    }
    if tie { None } else { best }
}

/// Vocabulary threshold: a third of the canonical value (0 below 3 characters).
fn vocab_dist(n: usize) -> usize {
    n / 3
}

/// Threshold against the one region name the NIK points at: a quarter of it.
fn region_dist(n: usize) -> usize {
    n / 4
}

/// Threshold against a whole list of region names: a sixth, and the closest must be unique.
fn region_list_dist(n: usize) -> usize {
    n / 6
}

fn penalise(conf: f32, d: usize, canonical: &str) -> f32 {
    let n = canonical.chars().count().max(1);
    conf * (1.0 - d as f32 / n as f32).max(0.0)
}

/// Upper case, one space between words, no label colon or stray punctuation at the ends.
fn clean(s: &str) -> String {
    let s = s.trim().trim_start_matches([':', ' ']).to_uppercase();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// In words that hold a letter, digits that look like letters become those letters (0/O, 1/I...).
/// All-digit words (numbered villages like "2 ILIR") are left alone.
fn fix_alpha(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            if w.chars().any(|c| c.is_ascii_alphabetic()) {
                w.chars()
                    .map(|c| match c {
                        '0' => 'O',
                        '1' => 'I',
                        '2' => 'Z',
                        '5' => 'S',
                        '6' => 'G',
                        '8' => 'B',
                        c => c,
                    })
                    .collect()
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// Letters that look like digits become those digits (O/0, I/1...), for numeric fields.
fn fix_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'O' | 'D' | 'Q' => '0',
            'I' | 'L' => '1',
            'Z' => '2',
            'S' => '5',
            'G' => '6',
            'B' => '8',
            'A' => '4',
            c => c,
        })
        .collect()
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// A printed date `DD-MM-YYYY` (any separators, letter look-alikes fixed) as `(y, m, d)`.
fn parse_date(s: &str) -> Option<(u32, u32, u32)> {
    let fixed = fix_digits(&clean(s));
    let groups: Vec<&str> = fixed
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    let digits: String = groups.concat();
    let (d, m, y) = match groups.as_slice() {
        [d, m, y] if d.len() <= 2 && m.len() <= 2 && y.len() == 4 => (*d, *m, *y),
        _ if digits.len() == 8 => (&digits[..2], &digits[2..4], &digits[4..]),
        _ => return None,
    };
    let (d, m, y) = (d.parse().ok()?, m.parse().ok()?, y.parse().ok()?);
    (d >= 1 && d <= days_in_month(y, m) && (1800..=2200).contains(&y)).then_some((y, m, d))
}

fn iso(date: (u32, u32, u32)) -> String {
    format!("{:04}-{:02}-{:02}", date.0, date.1, date.2)
}

/// Builder state while the fields are filled in.
struct Ctx {
    warnings: Vec<Warning>,
}

impl Ctx {
    fn warn(&mut self, w: Warning) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    /// A field snapped to a closed vocabulary; unknown values are kept, halved and warned.
    fn closed(&mut self, key: &'static str, line: Option<&RawLine>, vocab: &[&str]) -> Field {
        let Some(line) = line else {
            self.warn(Warning::Missing(key));
            return Field::missing();
        };
        let text = fix_alpha(&clean(&line.text));
        match snap(&text, vocab.iter().copied(), vocab_dist) {
            Some((v, d)) => Field::new(v, penalise(line.confidence, d, v)),
            None => {
                self.warn(Warning::UnknownValue(key));
                Field::new(text, line.confidence * 0.5)
            }
        }
    }

    /// A free-text field, cleaned and with letter look-alikes fixed.
    fn text(&mut self, key: &'static str, line: Option<&RawLine>) -> Field {
        match line {
            Some(l) if !clean(&l.text).is_empty() => {
                Field::new(fix_alpha(&clean(&l.text)), l.confidence)
            }
            _ => {
                self.warn(Warning::Missing(key));
                Field::missing()
            }
        }
    }
}

/// Builds the final fields from recognised lines keyed as in the module docs.
pub fn read_fields<'a>(lines: impl IntoIterator<Item = (&'a str, &'a RawLine)>) -> KtpReading {
    let mut by_key: Vec<(&str, &RawLine)> = Vec::new();
    for (k, l) in lines {
        by_key.push((k, l));
    }
    let first = |key: &str| by_key.iter().find(|(k, _)| *k == key).map(|(_, l)| *l);
    let mut cx = Ctx {
        warnings: Vec::new(),
    };

    // NIK: letter look-alikes become digits, separators go.
    let nik_line = first("nik");
    let (mut nik_field, nik) = match nik_line {
        None => {
            cx.warn(Warning::Missing("nik"));
            (Field::missing(), None)
        }
        Some(l) => {
            let digits: String = fix_digits(&clean(&l.text))
                .chars()
                .filter(|c| !matches!(c, ' ' | '.' | '-' | ':'))
                .collect();
            match Nik::parse(&digits) {
                Ok(n) => (Field::new(digits, l.confidence), Some(n)),
                Err(e) => {
                    cx.warn(Warning::NikInvalid(e.code()));
                    (Field::new(digits, l.confidence.min(0.5)), None)
                }
            }
        }
    };

    let name = cx.text("name", first("name"));

    // Birth line: "PLACE, DD-MM-YYYY".
    let (birth_place, mut birth_date, printed_birth) = birth(&mut cx, first("birth"));

    let mut sex = cx.closed("sex", first("sex"), &vocab::SEX);
    let blood_type = match first("blood_type") {
        Some(l) if !clean(&l.text).is_empty() && clean(&l.text) != "-" => {
            let text = clean(&l.text).replace('0', "O").replace(' ', "");
            if vocab::BLOOD_TYPE.contains(&text.as_str()) {
                Field::new(text, l.confidence)
            } else {
                cx.warn(Warning::UnknownValue("blood_type"));
                Field::new(text, l.confidence * 0.5)
            }
        }
        // A printed dash reads as one; nothing at all may be a value lost to blur or glare.
        Some(l) if clean(&l.text) == "-" => Field::new("-", l.confidence),
        Some(l) => {
            cx.warn(Warning::Unreadable("blood_type"));
            Field::new("-", l.confidence.min(0.5))
        }
        None => Field::new("-", 0.5),
    };

    let address_lines: Vec<&RawLine> = by_key
        .iter()
        .filter(|(k, _)| *k == "address")
        .map(|(_, l)| *l)
        .filter(|l| !clean(&l.text).is_empty())
        .collect();
    let address = if address_lines.is_empty() {
        cx.warn(Warning::Missing("address"));
        Field::missing()
    } else {
        let text = address_lines
            .iter()
            .map(|l| clean(&l.text))
            .collect::<Vec<String>>()
            .join(" ");
        let conf: f32 = address_lines.iter().map(|l| l.confidence).product();
        let conf = if unfinished_address(&text) {
            conf.min(UNFINISHED_ADDRESS_AT_MOST)
        } else {
            conf
        };
        Field::new(text, conf)
    };

    let rt_rw = rt_rw(&mut cx, first("rt_rw"));
    let village = cx.text("village", first("village"));
    let religion = cx.closed("religion", first("religion"), &vocab::RELIGION);
    let marital_status = cx.closed(
        "marital_status",
        first("marital_status"),
        &vocab::MARITAL_STATUS,
    );
    let occupation = match first("occupation") {
        Some(l) if !clean(&l.text).is_empty() => {
            let text = fix_alpha(&clean(&l.text));
            match snap(&text, OCCUPATIONS.iter().copied(), vocab_dist) {
                Some((v, d)) => Field::new(v, penalise(l.confidence, d, v)),
                None => Field::new(text, l.confidence),
            }
        }
        _ => {
            cx.warn(Warning::Missing("occupation"));
            Field::missing()
        }
    };
    let nationality = cx.closed("nationality", first("nationality"), &vocab::NATIONALITY);
    let valid_until = match first("valid_until") {
        None => {
            cx.warn(Warning::Missing("valid_until"));
            Field::missing()
        }
        Some(l) => {
            let text = clean(&l.text);
            let letters = text.chars().filter(|c| c.is_ascii_alphabetic()).count();
            let digits = text.chars().filter(|c| c.is_ascii_digit()).count();
            if letters > digits {
                cx.closed("valid_until", Some(l), &[SEUMUR_HIDUP])
            } else if let Some(d) = parse_date(&text) {
                Field::new(iso(d), l.confidence)
            } else {
                cx.warn(Warning::Unreadable("valid_until"));
                Field::new(text, l.confidence * 0.5)
            }
        }
    };

    // Regions: printed province and regency, checked against (and snapped to) the NIK's codes.
    let (mut province, mut regency, regency_code) =
        regions(&mut cx, nik.as_ref(), first("province"), first("regency"));
    let (mut district, district_code) =
        district(&mut cx, nik.as_ref(), regency_code, first("district"));

    // NIK cross-checks.
    if let Some(n) = &nik {
        if !n.warnings().is_empty() {
            cx.warn(Warning::NikUnknownRegion);
        }
        let raw = n.as_str().as_bytes();
        let two = |i: usize| u32::from(raw[i] - b'0') * 10 + u32::from(raw[i + 1] - b'0');
        let (day, month, yy) = (two(6), two(8), two(10));
        let day = if day > 40 { day - 40 } else { day };
        if let Some((y, m, d)) = printed_birth
            && (day != d || month != m || yy != y % 100)
        {
            cx.warn(Warning::NikBirthDateMismatch);
        }
        if let Some(printed) = Sex::from_ktp(&sex.value)
            && printed != n.sex()
        {
            cx.warn(Warning::NikSexMismatch);
        }
    }
    // A NIK that disagrees with the card is not trusted, whichever side was misread.
    if cx.warnings.iter().any(|w| {
        matches!(
            w,
            Warning::NikBirthDateMismatch
                | Warning::NikSexMismatch
                | Warning::NikProvinceMismatch
                | Warning::NikRegencyMismatch
                | Warning::NikDistrictMismatch
        )
    }) {
        nik_field.confidence = nik_field.confidence.min(0.5);
    }
    if by_key.iter().any(|(_, l)| l.repaired) {
        nik_field.confidence = nik_field.confidence.min(REPAIRED_AT_MOST);
        birth_date.confidence = birth_date.confidence.min(REPAIRED_AT_MOST);
    } else if let (Some(_), Some(line)) = (&nik, nik_line)
        && nik_field.confidence > 0.5
        && !cx.warnings.iter().any(|w| {
            matches!(
                w,
                Warning::NikUnknownRegion
                    | Warning::NikInvalid(_)
                    | Warning::Unreadable("birth_date")
            )
        })
    {
        // The district is checked only when it snapped to a district of the NIK's regency: it
        // confirms the NIK when it is the NIK's own.
        let district_agrees = nik
            .as_ref()
            .and_then(|n| region::district_name(n.district_code()))
            .is_some_and(|name| name.to_uppercase() == district.value);
        corroborate(
            &mut nik_field,
            &line.chars,
            &mut Agreeing {
                province: &mut province,
                regency: &mut regency,
                district: district_agrees.then_some(&mut district),
                sex: &mut sex,
                birth_date: &mut birth_date,
            },
        );
    }

    KtpReading {
        fields: KtpFields {
            nik: nik_field,
            name,
            birth_place,
            birth_date,
            sex,
            blood_type,
            address,
            rt_rw,
            village,
            district,
            regency,
            province,
            religion,
            marital_status,
            occupation,
            nationality,
            valid_until,
        },
        warnings: cx.warnings,
        district_code,
    }
}

/// How sure two agreeing readings of one fact make it: the chance that not both are wrong. (Two
/// wrong readings that agree must be wrong the same way, which is rarer still; that is left as a
/// margin for blur that misreads the NIK and the printed date alike.)
fn both(a: f32, b: f32) -> f32 {
    1.0 - (1.0 - a) * (1.0 - b)
}

/// The printed fields that restate parts of an agreeing NIK.
struct Agreeing<'a> {
    province: &'a mut Field,
    regency: &'a mut Field,
    district: Option<&'a mut Field>,
    sex: &'a mut Field,
    birth_date: &'a mut Field,
}

/// Two readings of one fact confirm each other. The NIK's digits restate the printed province
/// (digits 1-2), regency (3-4), district (5-6), sex (7, with the day) and birth date (7-12); when
/// the card agrees with itself (no mismatch warning), each part is wrong only if both its readings
/// are: the NIK's confidence is the product over its parts of [`both`] (digits' confidence, the
/// printed field's), times the serial digits' own, which nothing restates. Each printed field
/// takes the NIK part's confidence when that is higher (not [`both`]: one field's misread may be
/// the other's, when a blur turns an 8 into a 6 in the NIK and in the printed date alike). Needs
/// the NIK line's sixteen digit confidences; without them nothing changes.
fn corroborate(nik: &mut Field, digits: &[f32], printed: &mut Agreeing<'_>) {
    if digits.len() != 16 || nik.value.chars().count() != 16 {
        return;
    }
    let part = |r: std::ops::Range<usize>| digits[r].iter().product::<f32>();
    let day_and_sex = printed.sex.confidence.min(printed.birth_date.confidence);
    let parts: [(std::ops::Range<usize>, f32); 5] = [
        (0..2, printed.province.confidence),
        (2..4, printed.regency.confidence),
        (
            4..6,
            printed.district.as_ref().map_or(0.0, |d| d.confidence),
        ),
        (6..7, day_and_sex),
        (7..12, printed.birth_date.confidence),
    ];
    let mut conf = part(12..16);
    for (r, other) in &parts {
        conf *= both(part(r.clone()), *other);
    }
    nik.confidence = nik.confidence.max(conf);
    let raise = |f: &mut Field, by: f32| f.confidence = f.confidence.max(by);
    raise(printed.province, part(0..2));
    raise(printed.regency, part(0..4));
    if let Some(d) = printed.district.as_deref_mut() {
        raise(d, part(0..6));
    }
    raise(printed.sex, part(6..7));
    raise(printed.birth_date, part(6..12));
}

fn birth(cx: &mut Ctx, line: Option<&RawLine>) -> (Field, Field, Option<(u32, u32, u32)>) {
    let Some(line) = line.filter(|l| !clean(&l.text).is_empty()) else {
        cx.warn(Warning::Missing("birth_place"));
        cx.warn(Warning::Missing("birth_date"));
        return (Field::missing(), Field::missing(), None);
    };
    let text = clean(&line.text);
    // Split at the last comma; without one, before the trailing run of date-like characters.
    let (place, date) = match text.rsplit_once(',') {
        Some((p, d)) => (p.trim().to_owned(), d.trim().to_owned()),
        None => {
            let words: Vec<&str> = text.split(' ').collect();
            let split = words
                .iter()
                .rposition(|w| w.chars().filter(|c| c.is_ascii_digit()).count() * 2 < w.len())
                .map_or(0, |i| i + 1);
            (words[..split].join(" "), words[split..].join(" "))
        }
    };
    let place_field = if place.is_empty() {
        cx.warn(Warning::Missing("birth_place"));
        Field::missing()
    } else {
        // Birth places are usually a regency or city, printed without its kind word.
        let place = fix_alpha(&place);
        let bases: Vec<String> = region::regencies()
            .iter()
            .filter_map(|r| region::split_regency_name(r.name))
            .map(|(_, rest)| {
                rest.strip_prefix("Administrasi ")
                    .unwrap_or(rest)
                    .to_uppercase()
            })
            .collect();
        match snap(&place, bases.iter().map(String::as_str), region_list_dist) {
            Some((v, d)) => Field::new(v, penalise(line.confidence, d, v)),
            None => Field::new(place, line.confidence),
        }
    };
    match parse_date(&date) {
        Some(d) => (place_field, Field::new(iso(d), line.confidence), Some(d)),
        None => {
            cx.warn(Warning::Unreadable("birth_date"));
            (place_field, Field::new(date, line.confidence * 0.5), None)
        }
    }
}

fn rt_rw(cx: &mut Ctx, line: Option<&RawLine>) -> Field {
    let Some(line) = line else {
        cx.warn(Warning::Missing("rt_rw"));
        return Field::missing();
    };
    let text = fix_digits(&clean(&line.text));
    let groups: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    let pair = match groups.as_slice() {
        [a, b] if a.len() <= 3 && b.len() <= 3 => Some((a.to_string(), b.to_string())),
        [ab] if ab.len() == 6 => Some((ab[..3].to_owned(), ab[3..].to_owned())),
        _ => None,
    };
    match pair {
        Some((a, b)) => Field::new(format!("{a:0>3}/{b:0>3}"), line.confidence),
        None => {
            cx.warn(Warning::Unreadable("rt_rw"));
            Field::new(clean(&line.text), line.confidence * 0.5)
        }
    }
}

/// The ways a province is printed: the decree's name upper-cased, plus the usual short forms.
fn province_forms(code2: &str, name: &str) -> Vec<String> {
    let mut v = vec![name.to_uppercase()];
    match code2 {
        "31" => v.push("DKI JAKARTA".to_owned()),
        "34" => v.push("DI YOGYAKARTA".to_owned()),
        _ => {}
    }
    v
}

/// The ways a regency or city is printed: "KABUPATEN MALANG", and for Jakarta's administrative
/// regions also without "ADMINISTRASI" and without the kind word.
fn regency_forms(name: &str) -> Vec<String> {
    let up = name.to_uppercase();
    let mut v = vec![up.clone()];
    if up.contains(" ADMINISTRASI ") {
        v.push(up.replacen(" ADMINISTRASI ", " ", 1));
        if let Some((_, rest)) = region::split_regency_name(name) {
            let rest = rest.strip_prefix("Administrasi ").unwrap_or(rest);
            v.push(rest.to_uppercase());
        }
    }
    v
}

/// Snaps `text` to the forms of `code`'s name, returning the form and the distance.
fn snap_forms(text: &str, forms: &[String], max: fn(usize) -> usize) -> Option<(String, usize)> {
    snap(text, forms.iter().map(String::as_str), max).map(|(f, d)| (f.to_owned(), d))
}

/// Province and regency fields, and the 4-digit code of the printed regency when it is known.
fn regions(
    cx: &mut Ctx,
    nik: Option<&Nik>,
    province_line: Option<&RawLine>,
    regency_line: Option<&RawLine>,
) -> (Field, Field, Option<&'static str>) {
    let province = match province_line {
        None => {
            cx.warn(Warning::Missing("province"));
            Field::missing()
        }
        Some(l) => {
            let text = fix_alpha(&clean(&l.text));
            // Drop the word PROVINSI (as read, so within two edits).
            let text = match text.split_once(' ') {
                Some((first, rest)) if edit_distance(first, "PROVINSI") <= 2 => rest.to_owned(),
                _ => text,
            };
            let own = nik.and_then(|n| {
                let code = n.province_code();
                region::province_name(code).map(|name| province_forms(code, name))
            });
            let hit = own
                .as_deref()
                .and_then(|f| snap_forms(&text, f, region_dist));
            match (hit, own.is_some()) {
                (Some((v, d)), _) => Field::new(v.clone(), penalise(l.confidence, d, &v)),
                (None, has_nik) => {
                    if has_nik {
                        cx.warn(Warning::NikProvinceMismatch);
                    }
                    let all: Vec<String> = region::provinces()
                        .iter()
                        .flat_map(|r| province_forms(r.code, r.name))
                        .collect();
                    match snap_forms(&text, &all, region_list_dist) {
                        Some((v, d)) => Field::new(v.clone(), penalise(l.confidence, d, &v)),
                        None => Field::new(text, l.confidence),
                    }
                }
            }
        }
    };
    let Some(l) = regency_line else {
        cx.warn(Warning::Missing("regency"));
        return (province, Field::missing(), None);
    };
    let text = fix_alpha(&clean(&l.text));
    let own = nik.and_then(|n| {
        region::regencies()
            .iter()
            .find(|r| r.code == n.regency_code())
    });
    if let Some(r) = own
        && let Some((v, d)) = snap_forms(&text, &regency_forms(r.name), region_dist)
    {
        return (
            province,
            Field::new(v.clone(), penalise(l.confidence, d, &v)),
            Some(r.code),
        );
    }
    if nik.is_some() && own.is_some() {
        cx.warn(Warning::NikRegencyMismatch);
    }
    let mut best: Option<(String, usize, &'static str)> = None;
    let mut tie = false;
    for r in region::regencies() {
        if let Some((v, d)) = snap_forms(&text, &regency_forms(r.name), region_list_dist) {
            match &best {
                Some((_, bd, _)) if d == *bd => tie = true,
                Some((_, bd, _)) if d > *bd => {}
                _ => {
                    best = Some((v, d, r.code));
                    tie = false;
                }
            }
        }
    }
    match best.filter(|_| !tie) {
        Some((v, d, code)) => {
            let conf = penalise(l.confidence, d, &v);
            (province, Field::new(v, conf), Some(code))
        }
        None => (province, Field::new(text, l.confidence), None),
    }
}

fn district(
    cx: &mut Ctx,
    nik: Option<&Nik>,
    regency_code: Option<&'static str>,
    line: Option<&RawLine>,
) -> (Field, Option<&'static str>) {
    let Some(l) = line.filter(|l| !clean(&l.text).is_empty()) else {
        cx.warn(Warning::Missing("district"));
        return (Field::missing(), None);
    };
    let text = fix_alpha(&clean(&l.text));
    let Some(code4) = regency_code else {
        return (Field::new(text, l.confidence), None);
    };
    let names: Vec<(String, &'static str)> = region::districts_of(code4)
        .iter()
        .map(|r| (r.name.to_uppercase(), r.code))
        .collect();
    // A regency has a few dozen districts at most: a third of the name may differ.
    match snap(&text, names.iter().map(|(n, _)| n.as_str()), vocab_dist) {
        Some((v, d)) => {
            let code = names.iter().find(|(n, _)| n == v).map(|(_, c)| *c);
            if let Some(n) = nik {
                let known = region::district_name(n.district_code()).is_some();
                if known
                    && n.regency_code() == code4
                    && code.is_some_and(|c| c != n.district_code())
                {
                    cx.warn(Warning::NikDistrictMismatch);
                }
            }
            (Field::new(v, penalise(l.confidence, d, v)), code)
        }
        // None of the regency's registered districts, not even a third of one's letters off:
        // a district read in part (its first letters faint and left out of the line's box,
        // "TODANAN" read "ANAN", returned sure on a webcam card of seed 3) or misread.
        None if !names.is_empty() => (
            Field::new(text, l.confidence.min(UNREGISTERED_DISTRICT_AT_MOST)),
            None,
        ),
        None => (Field::new(text, l.confidence), None),
    }
}

/// The most a district keeps of its confidence when it is none of its regency's registered
/// districts.
const UNREGISTERED_DISTRICT_AT_MOST: f32 = 0.5;

#[cfg(test)]
mod tests {
    use super::*;

    /// A clean card: Kabupaten Malang, Dau, a woman born 9 March 1982.
    fn card() -> Vec<(&'static str, RawLine)> {
        [
            ("province", "PROVINSI JAWA TIMUR"),
            ("regency", "KABUPATEN MALANG"),
            ("nik", "3507224903820003"),
            ("name", "SITI AMINAH"),
            ("birth", "MALANG, 09-03-1982"),
            ("sex", "PEREMPUAN"),
            ("blood_type", "O"),
            ("address", "JL. MAWAR NO. 12"),
            ("rt_rw", "018/010"),
            ("village", "SUMBERSEKAR"),
            ("district", "DAU"),
            ("religion", "ISLAM"),
            ("marital_status", "KAWIN"),
            ("occupation", "MENGURUS RUMAH TANGGA"),
            ("nationality", "WNI"),
            ("valid_until", "SEUMUR HIDUP"),
        ]
        .into_iter()
        .map(|(k, v)| (k, RawLine::new(v, 0.95)))
        .collect()
    }

    fn read(lines: &[(&'static str, RawLine)]) -> KtpReading {
        read_fields(lines.iter().map(|(k, l)| (*k, l)))
    }

    fn set(lines: &mut [(&'static str, RawLine)], key: &str, text: &str) {
        for (k, l) in lines.iter_mut() {
            if *k == key {
                l.text = text.to_owned();
            }
        }
    }

    fn codes(r: &KtpReading) -> Vec<String> {
        r.warnings.iter().map(Warning::code).collect()
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("ISLAM", "ISLAM"), 0);
        assert_eq!(edit_distance("ISLAN", "ISLAM"), 1);
        assert_eq!(edit_distance("KAWN", "KAWIN"), 1);
        assert_eq!(edit_distance("KAWIN", "BELUM KAWIN"), 6);
        assert_eq!(edit_distance("abc", ""), 3);
    }

    #[test]
    fn clean_card_reads_as_printed_without_warnings() {
        let r = read(&card());
        assert!(r.warnings.is_empty(), "{:?}", codes(&r));
        let f = &r.fields;
        assert_eq!(f.nik.value, "3507224903820003");
        assert_eq!(f.name.value, "SITI AMINAH");
        assert_eq!(f.birth_place.value, "MALANG");
        assert_eq!(f.birth_date.value, "1982-03-09");
        assert_eq!(f.sex.value, "PEREMPUAN");
        assert_eq!(f.blood_type.value, "O");
        assert_eq!(f.address.value, "JL. MAWAR NO. 12");
        assert_eq!(f.rt_rw.value, "018/010");
        assert_eq!(f.village.value, "SUMBERSEKAR");
        assert_eq!(f.district.value, "DAU");
        assert_eq!(f.regency.value, "KABUPATEN MALANG");
        assert_eq!(f.province.value, "JAWA TIMUR");
        assert_eq!(f.religion.value, "ISLAM");
        assert_eq!(f.marital_status.value, "KAWIN");
        assert_eq!(f.occupation.value, "MENGURUS RUMAH TANGGA");
        assert_eq!(f.nationality.value, "WNI");
        assert_eq!(f.valid_until.value, "SEUMUR HIDUP");
        assert!((f.nik.confidence - 0.95).abs() < 1e-6);
        assert!((f.religion.confidence - 0.95).abs() < 1e-6);
    }

    #[test]
    fn json_has_the_contract_keys_in_order_and_warning_codes() {
        let mut lines = card();
        set(&mut lines, "sex", "LAKI-LAKI");
        let r = read(&lines);
        let json = serde_json::to_value(&r).expect("serialise");
        let keys: Vec<&str> = json["fields"]
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = [
            "nik",
            "name",
            "birth_place",
            "birth_date",
            "sex",
            "blood_type",
            "address",
            "rt_rw",
            "village",
            "district",
            "regency",
            "province",
            "religion",
            "marital_status",
            "occupation",
            "nationality",
            "valid_until",
        ];
        // serde_json's map is sorted unless preserve_order is on: compare as sets.
        let mut keys = keys;
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(json["fields"]["nik"]["value"], "3507224903820003");
        assert_eq!(json["warnings"], serde_json::json!(["nik_sex_mismatch"]));
    }

    #[test]
    fn ocr_errors_are_fixed_and_cost_confidence() {
        let mut lines = card();
        set(&mut lines, "nik", "35O72249O382OOO3");
        set(&mut lines, "name", "S1TI AM1NAH");
        set(&mut lines, "birth", "MA1ANG, O9-O3-l982");
        set(&mut lines, "religion", "1SLAN");
        set(&mut lines, "marital_status", "KAWN");
        set(&mut lines, "sex", "PEREMPAN");
        set(&mut lines, "blood_type", "0");
        set(&mut lines, "rt_rw", "O18 / 1O");
        set(&mut lines, "province", "PR0VINSI JAWA TIMR");
        set(&mut lines, "regency", "KABUPATEN MALAN");
        set(&mut lines, "district", "DAV");
        set(&mut lines, "occupation", "MENGURUS RUMAH TANGA");
        set(&mut lines, "nationality", "WN1");
        set(&mut lines, "valid_until", "SEUMUR HIDP");
        let r = read(&lines);
        assert!(r.warnings.is_empty(), "{:?}", codes(&r));
        let f = &r.fields;
        assert_eq!(f.nik.value, "3507224903820003");
        assert_eq!(f.name.value, "SITI AMINAH");
        assert_eq!(f.birth_place.value, "MALANG"); // snapped to a regency name
        assert!(f.birth_place.confidence < 0.95);
        assert_eq!(f.birth_date.value, "1982-03-09");
        assert_eq!(f.religion.value, "ISLAM");
        assert!(
            f.religion.confidence < 0.95 * 0.85,
            "{}",
            f.religion.confidence
        );
        assert_eq!(f.marital_status.value, "KAWIN");
        assert_eq!(f.sex.value, "PEREMPUAN");
        assert_eq!(f.blood_type.value, "O");
        assert_eq!(f.rt_rw.value, "018/010");
        assert_eq!(f.province.value, "JAWA TIMUR");
        assert!(f.province.confidence < 0.95);
        assert_eq!(f.regency.value, "KABUPATEN MALANG");
        assert_eq!(f.district.value, "DAU");
        assert_eq!(f.occupation.value, "MENGURUS RUMAH TANGGA");
        assert_eq!(f.nationality.value, "WNI");
        assert_eq!(f.valid_until.value, "SEUMUR HIDUP");
    }

    #[test]
    fn readings_that_agree_with_the_nik_confirm_each_other() {
        let nik = "3507224903820003";
        let with_digits = |lines: &mut Vec<(&'static str, RawLine)>, chars: Vec<f32>| {
            let at = lines.iter().position(|(k, _)| *k == "nik").unwrap();
            let conf = chars.iter().product();
            lines[at].1 = RawLine::with_chars(nik, conf, chars);
        };
        // Every digit at 0.99: 0.85 on its own. The card confirms all but the serial (0.96).
        let mut lines = card();
        with_digits(&mut lines, vec![0.99; 16]);
        let r = read(&lines);
        assert!(r.warnings.is_empty(), "{:?}", codes(&r));
        let f = &r.fields;
        let serial = 0.99f32.powi(4);
        assert!(
            f.nik.confidence > 0.9 && f.nik.confidence < serial + 1e-4,
            "{}",
            f.nik.confidence
        );
        // A doubtful date digit is vouched for by the printed date; the printed fields keep
        // their own confidence where it is higher than the NIK's part.
        let mut digits = vec![0.999; 16];
        digits[9] = 0.6;
        with_digits(&mut lines, digits.clone());
        let r = read(&lines);
        assert!(r.fields.nik.confidence > 0.9, "{}", r.fields.nik.confidence);
        assert!((r.fields.birth_date.confidence - 0.95).abs() < 1e-6);
        // A doubtful serial digit is not: nothing else on the card restates it.
        digits[9] = 0.999;
        digits[14] = 0.6;
        with_digits(&mut lines, digits.clone());
        assert!(read(&lines).fields.nik.confidence < 0.61);
        // A confident NIK lends its confidence to a doubtful printed date it agrees with.
        digits[14] = 0.999;
        with_digits(&mut lines, digits.clone());
        set(&mut lines, "birth", "MALANG, 09-03-1982");
        let at = lines.iter().position(|(k, _)| *k == "birth").unwrap();
        lines[at].1.confidence = 0.5;
        let r = read(&lines);
        assert!(r.fields.birth_date.confidence > 0.98);
        // Disagreement: neither side is trusted.
        lines[at].1.confidence = 0.95;
        set(&mut lines, "sex", "LAKI-LAKI");
        let r = read(&lines);
        assert!(r.fields.nik.confidence <= 0.5);
        assert!(r.fields.sex.confidence <= 0.95);
        // A repaired line caps the NIK and the date whatever agrees.
        set(&mut lines, "sex", "PEREMPUAN");
        lines[at].1 = RawLine::repaired("MALANG, 09-03-1982", 0.99);
        let r = read(&lines);
        assert!(r.fields.nik.confidence <= REPAIRED_AT_MOST);
        assert!(r.fields.birth_date.confidence <= REPAIRED_AT_MOST);
    }

    #[test]
    fn an_empty_blood_type_is_flagged_a_printed_dash_is_not() {
        let mut lines = card();
        set(&mut lines, "blood_type", "-");
        let r = read(&lines);
        assert_eq!(r.fields.blood_type.value, "-");
        assert!(!r.has_warning("unreadable_blood_type"));
        set(&mut lines, "blood_type", "");
        let r = read(&lines);
        assert_eq!(r.fields.blood_type.value, "-");
        assert!(r.has_warning("unreadable_blood_type"));
        assert!(r.fields.blood_type.confidence <= 0.5);
    }

    #[test]
    fn mismatches_produce_named_warnings() {
        // Printed date disagrees with the NIK's.
        let mut lines = card();
        set(&mut lines, "birth", "MALANG, 19-03-1982");
        let r = read(&lines);
        assert_eq!(codes(&r), ["nik_birth_date_mismatch"]);
        assert!(r.fields.nik.confidence <= 0.5);

        // Printed sex disagrees with day + 40.
        let mut lines = card();
        set(&mut lines, "sex", "LAKI-LAKI");
        assert_eq!(codes(&read(&lines)), ["nik_sex_mismatch"]);

        // Province and regency of another region than the NIK's 3507.
        let mut lines = card();
        set(&mut lines, "province", "PROVINSI JAWA BARAT");
        set(&mut lines, "regency", "KOTA BANDUNG");
        set(&mut lines, "district", "COBLONG");
        let r = read(&lines);
        assert_eq!(codes(&r), ["nik_province_mismatch", "nik_regency_mismatch"]);
        assert_eq!(r.fields.province.value, "JAWA BARAT");
        assert_eq!(r.fields.regency.value, "KOTA BANDUNG");
        assert_eq!(r.fields.district.value, "COBLONG");

        // Another district of the same regency.
        let mut lines = card();
        set(&mut lines, "district", "SINGOSARI");
        assert_eq!(codes(&read(&lines)), ["nik_district_mismatch"]);

        // A district read in part, none of the regency's (nor a third of its letters off one):
        // kept as read, doubted.
        let mut lines = card();
        set(&mut lines, "district", "OSARI");
        let r = read(&lines);
        assert_eq!(r.fields.district.value, "OSARI");
        assert!(r.fields.district.confidence <= 0.5);

        // District code 99 is not in the table.
        let mut lines = card();
        set(&mut lines, "nik", "3507994903820003");
        assert_eq!(codes(&read(&lines)), ["nik_unknown_region"]);

        // Invalid NIKs carry the crdt-schema code and a capped confidence.
        let mut lines = card();
        set(&mut lines, "nik", "350722490382003");
        let r = read(&lines);
        assert_eq!(codes(&r), ["nik_length"]);
        assert!(r.fields.nik.confidence <= 0.5);
        let mut lines = card();
        set(&mut lines, "nik", "9907224903820003");
        assert_eq!(codes(&read(&lines)), ["nik_unknown_province"]);
    }

    #[test]
    fn an_address_ending_in_a_word_that_wants_more_is_doubted() {
        let address = |text: &str| {
            let mut lines = card();
            set(&mut lines, "address", text);
            read(&lines).fields.address
        };
        // Its house number lost (a wrapped line not found): as read, but doubted.
        let a = address("JL. MAWAR NO.");
        assert_eq!(a.value, "JL. MAWAR NO.");
        assert!(a.confidence <= UNFINISHED_ADDRESS_AT_MOST, "{a:?}");
        assert!(address("PERUM BUMI INDAH BLOK").confidence <= UNFINISHED_ADDRESS_AT_MOST);
        // Whole: as sure as its line.
        assert!(address("JL. MAWAR NO. 12").confidence > 0.9);
        assert!(address("DUSUN KRAJAN").confidence > 0.9);
        assert!(address("JLN. MAWAR NO.12").confidence > 0.9);
    }

    #[test]
    fn wrapped_address_is_joined_with_one_space() {
        let mut lines = card();
        let at = lines
            .iter()
            .position(|(k, _)| *k == "address")
            .expect("address");
        lines[at].1 = RawLine::new("JL. RAYA SUMBERSEKAR GG.  MELATI ", 0.9);
        lines.insert(
            at + 1,
            ("address", RawLine::new(" NO. 17 DUSUN KRAJAN", 0.8)),
        );
        let r = read(&lines);
        assert_eq!(
            r.fields.address.value,
            "JL. RAYA SUMBERSEKAR GG. MELATI NO. 17 DUSUN KRAJAN"
        );
        assert!((r.fields.address.confidence - 0.72).abs() < 1e-4);
    }

    #[test]
    fn unparseable_and_missing_values_are_flagged() {
        let mut lines = card();
        set(&mut lines, "religion", "XYZZY");
        set(&mut lines, "rt_rw", "01");
        set(&mut lines, "birth", "MALANG");
        set(&mut lines, "valid_until", "31-02-2020");
        set(&mut lines, "blood_type", "");
        lines.retain(|(k, _)| *k != "name");
        let r = read(&lines);
        let c = codes(&r);
        for want in [
            "unknown_value_religion",
            "unreadable_rt_rw",
            "unreadable_birth_date",
            "unreadable_valid_until",
            "missing_name",
        ] {
            assert!(c.iter().any(|x| x == want), "{want} not in {c:?}");
        }
        assert_eq!(r.fields.religion.value, "XYZZY");
        assert!(r.fields.religion.confidence <= 0.5);
        assert_eq!(r.fields.birth_place.value, "MALANG");
        assert_eq!(r.fields.blood_type.value, "-");
    }

    #[test]
    fn dates_and_expiry() {
        assert_eq!(parse_date("09-03-1982"), Some((1982, 3, 9)));
        assert_eq!(parse_date("9-3-1982"), Some((1982, 3, 9)));
        assert_eq!(parse_date("09031982"), Some((1982, 3, 9)));
        assert_eq!(parse_date("29-02-2001"), None);
        assert_eq!(parse_date("32-01-2001"), None);
        let mut lines = card();
        set(&mut lines, "valid_until", "09-03-2017");
        set(&mut lines, "birth", "KOTA BATU 09-03-1982");
        let r = read(&lines);
        assert_eq!(r.fields.valid_until.value, "2017-03-09");
        assert_eq!(r.fields.birth_place.value, "KOTA BATU");
        assert_eq!(r.fields.birth_date.value, "1982-03-09");
    }

    #[test]
    fn snapping_needs_a_unique_close_value() {
        // "CERAI" is equally far from both CERAI values and too far from the others.
        assert_eq!(
            snap("CERAI", vocab::MARITAL_STATUS.iter().copied(), vocab_dist),
            None
        );
        assert_eq!(
            snap(
                "CERAI MAT",
                vocab::MARITAL_STATUS.iter().copied(),
                vocab_dist
            ),
            Some(("CERAI MATI", 1))
        );
        // Blood types are too short to snap: only exact values pass.
        assert_eq!(snap("C", ["A", "B", "O"], vocab_dist), None);
        // Numbered villages keep their digits.
        assert_eq!(fix_alpha("2 ILIR"), "2 ILIR");
        assert_eq!(fix_alpha("K4W1N"), "K4WIN");
    }

    #[test]
    fn odd_text_never_panics() {
        let odd = [
            "",
            " ",
            ":",
            ",",
            "ß",
            "İSLAM",
            "ﬃ",
            "1/2/3/4",
            "00-00-0000",
            "9999999999999999",
            "3507224903820003 3507224903820003",
            "PROVINSI",
            "KOTA",
            "-",
            "/",
            ",,,",
            "é,é",
            "\u{0}",
            "PROVINSI  ",
            "12,34-56-7890",
        ];
        let keys = LINE_KEYS;
        for text in odd {
            for conf in [0.0, 1.0, f32::NAN] {
                let lines: Vec<(&str, RawLine)> = keys
                    .iter()
                    .map(|k| (*k, RawLine::new(text, conf)))
                    .collect();
                let r = read_fields(lines.iter().map(|(k, l)| (*k, l)));
                assert!(serde_json::to_string(&r).is_ok());
            }
        }
        let empty: Vec<(&str, RawLine)> = Vec::new();
        let r = read(&empty);
        assert!(r.has_warning("missing_nik"));
        assert_eq!(r.fields.blood_type.value, "-");
    }

    #[test]
    fn jakarta_forms_are_recognised() {
        let mut lines = card();
        // 3173 Jakarta Barat, district 317301 (first of that city).
        let district = region::districts_of("3173")
            .first()
            .expect("a district")
            .name
            .to_uppercase();
        set(&mut lines, "nik", "3173014903820003");
        set(&mut lines, "province", "PROVINSI DKI JAKARTA");
        set(&mut lines, "regency", "JAKARTA BARAT");
        set(&mut lines, "district", &district);
        let r = read(&lines);
        assert!(r.warnings.is_empty(), "{:?}", codes(&r));
        assert_eq!(r.fields.province.value, "DKI JAKARTA");
        assert_eq!(r.fields.regency.value, "JAKARTA BARAT");
    }
}
