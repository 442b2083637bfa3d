//! Synthetic e-KTP cards for training the line recogniser and for the accuracy tests.
//!
//! A [`Renderer`] turns `(seed, index)` into a [`Sample`]: an invented but internally consistent
//! identity ([`identity`]), drawn on the card layout ([`card`]) with faces from one half of the font
//! split ([`fonts`]), placed and degraded as a scan or a phone photo ([`degrade`]). Each sample
//! carries the ground truth: the 17 field values, every printed line's text and quadrilateral in
//! the output image, and the card's corners. Everything is deterministic in `(seed, index, tier,
//! split)`: the same inputs give the same bytes, on any number of threads.
//!
//! # Making a dataset
//! ```text
//! cargo build --release -p ocr-model
//! target/release/render-ktp --out /tmp/ktp-train --count 50000 --seed 1 --tier photo --fonts train --lines
//! target/release/render-ktp --out /tmp/ktp-test  --count 2000  --seed 2 --tier hard  --fonts heldout
//! ```
//! `labels.jsonl` holds one [`Label`] per image; `lines.tsv` maps each straightened grey line crop
//! (height 32) to its text. Use different seeds for training and test sets, and `--fonts heldout`
//! for the accuracy test. `--preview` writes PNG copies with the line boxes drawn.
//!
//! Nothing rendered here shows a real person: names, addresses and villages are random
//! combinations of common words, the photo is a featureless silhouette and the signature a random
//! scribble. Only the region codes and names are real (they are public facts).

pub mod card;
pub mod degrade;
pub mod fonts;
pub use crate::geom;
pub mod identity;
pub mod text;
pub mod vocab;

use std::path::PathBuf;

use image::{GrayImage, Luma, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use card::LineRole;
pub use degrade::{DegradeParams, Tier};
pub use fonts::{FontSet, Split};
pub use geom::{Homography, Quad};
pub use identity::Identity;
pub use vocab::Names;

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// A font file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A font file is not a font ab_glyph can parse.
    #[error("{path} is not a usable TrueType/OpenType font")]
    Font {
        /// The file.
        path: PathBuf,
    },
    /// The split has no face for one of the roles.
    #[error("the {split:?} font split lacks a face for some role")]
    NoFace {
        /// The split.
        split: Split,
    },
    /// The compiled-in region table is empty or inconsistent.
    #[error("the region table has no usable district")]
    RegionTable,
    /// A placement produced a degenerate quadrilateral.
    #[error("degenerate card placement")]
    Geometry,
    /// Unknown tier name.
    #[error("unknown tier {0:?} (expected scan, photo or hard)")]
    BadTier(String),
    /// Encoding or decoding an image failed.
    #[error("image codec")]
    Image(#[from] image::ImageError),
    /// JPEG encoding failed.
    #[error("JPEG encoder")]
    Jpeg(#[from] jpeg_encoder::EncodingError),
}

/// The ground-truth field values, keyed as the reader reports them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fields {
    /// 16 digits.
    pub nik: String,
    /// As printed.
    pub name: String,
    /// As printed before the comma, e.g. "MALANG".
    pub birth_place: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// LAKI-LAKI or PEREMPUAN.
    pub sex: String,
    /// A, B, AB, O or "-".
    pub blood_type: String,
    /// Printed lines joined with one space.
    pub address: String,
    /// `RRR/WWW`.
    pub rt_rw: String,
    /// Kel/Desa.
    pub village: String,
    /// Kecamatan.
    pub district: String,
    /// As printed, e.g. "KABUPATEN MALANG".
    pub regency: String,
    /// Without "PROVINSI", e.g. "JAWA TIMUR".
    pub province: String,
    /// Agama.
    pub religion: String,
    /// Status Perkawinan.
    pub marital_status: String,
    /// Pekerjaan.
    pub occupation: String,
    /// Kewarganegaraan (WNI).
    pub nationality: String,
    /// SEUMUR HIDUP or `YYYY-MM-DD`.
    pub valid_until: String,
}

impl Fields {
    fn of(id: &Identity, address_lines: &[String]) -> Self {
        Fields {
            nik: id.nik.clone(),
            name: id.name.clone(),
            birth_place: id.birth_place.clone(),
            birth_date: id.birth_date.iso(),
            sex: id.sex.printed().to_owned(),
            blood_type: id.blood_type.to_owned(),
            address: address_lines.join(" "),
            rt_rw: id.rt_rw.clone(),
            village: id.village.clone(),
            district: id.district.clone(),
            regency: id.regency.clone(),
            province: id.province.clone(),
            religion: id.religion.to_owned(),
            marital_status: id.marital_status.to_owned(),
            occupation: id.occupation.to_owned(),
            nationality: id.nationality.to_owned(),
            valid_until: id
                .valid_until
                .map_or_else(|| "SEUMUR HIDUP".to_owned(), |d| d.iso()),
        }
    }

    /// `(key, value)` pairs in the order above (the keys of `fields::FIELD_KEYS`).
    pub fn pairs(&self) -> [(&'static str, &str); 17] {
        let v = [
            &self.nik,
            &self.name,
            &self.birth_place,
            &self.birth_date,
            &self.sex,
            &self.blood_type,
            &self.address,
            &self.rt_rw,
            &self.village,
            &self.district,
            &self.regency,
            &self.province,
            &self.religion,
            &self.marital_status,
            &self.occupation,
            &self.nationality,
            &self.valid_until,
        ];
        std::array::from_fn(|i| (crate::fields::FIELD_KEYS[i], v[i].as_str()))
    }
}

/// One printed line in the output image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LineLabel {
    /// Header, label, value or issue line.
    pub role: LineRole,
    /// Field key for values (`"nik"`, `"name"`, `"birth"` for "PLACE, DD-MM-YYYY", `"address"` once
    /// per printed address line, ...), `"province"`/`"regency"` for the headers, `"label"` for labels,
    /// `"issue_place"`/`"issue_date"` under the photo.
    pub key: &'static str,
    /// Exactly the characters printed.
    pub text: String,
    /// Corners TL, TR, BR, BL in output image pixels.
    pub quad: Quad,
}

/// Everything known about a sample except its pixels; one JSON line of `labels.jsonl`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Label {
    /// File name of the image, set by whoever writes it.
    pub file: String,
    /// The renderer's seed.
    pub seed: u64,
    /// Sample index under that seed.
    pub index: u64,
    /// Degradation tier.
    pub tier: Tier,
    /// Font split.
    pub fonts: Split,
    /// Faces used: body, header, NIK.
    pub faces: [&'static str; 3],
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Ground truth.
    pub fields: Fields,
    /// Card corners TL, TR, BR, BL in the image.
    pub corners: Quad,
    /// Every printed line.
    pub lines: Vec<LineLabel>,
}

/// One rendered card.
#[derive(Debug)]
pub struct Sample {
    /// The pixels exactly as a reader would decode them from the file (unless the renderer was told
    /// not to decode: then, for JPEG tiers, the pixels before compression).
    pub image: RgbImage,
    /// JPEG bytes for tiers that compress; `None` means the image is lossless (write PNG).
    pub jpeg: Option<Vec<u8>>,
    /// Ground truth.
    pub label: Label,
    /// Card pixels to image pixels.
    pub card_to_image: Homography,
    /// The card's line boxes in card pixels, parallel to `label.lines`.
    pub card_rects: Vec<[f32; 4]>,
}

/// An image as a PNG file, fast to write.
fn png(img: &RgbImage) -> Result<Vec<u8>, SynthError> {
    let mut out = Vec::new();
    let enc = image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    );
    img.write_with_encoder(enc)?;
    Ok(out)
}

impl Sample {
    /// The bytes of the image file and its extension ("jpg" or "png").
    pub fn file_bytes(&self) -> Result<(Vec<u8>, &'static str), SynthError> {
        if let Some(j) = &self.jpeg {
            return Ok((j.clone(), "jpg"));
        }
        Ok((png(&self.image)?, "png"))
    }

    /// The photo mirrored left to right, as a camera that saves its preview does: the pixels of
    /// [`Self::image`], mirrored, as a lossless PNG (the same information as the photo itself).
    pub fn mirrored_png(&self) -> Result<Vec<u8>, SynthError> {
        png(&image::imageops::flip_horizontal(&self.image))
    }

    /// The photo as a phone of a higher resolution would save it: resampled (Catmull-Rom) so its
    /// long side is `long_side` pixels and saved as a JPEG of quality 92; with the factor applied.
    /// For checking that nothing in the reader depends on the photo's pixel size.
    pub fn resized_jpeg(&self, long_side: u32) -> Result<(Vec<u8>, f32), SynthError> {
        let (bytes, _) = self.file_bytes()?;
        let img = image::load_from_memory(&bytes)?.to_rgb8();
        let f = long_side as f32 / img.width().max(img.height()) as f32;
        let (w, h) = (
            ((img.width() as f32 * f).round() as u32).max(1),
            ((img.height() as f32 * f).round() as u32).max(1),
        );
        let big = image::imageops::resize(&img, w, h, image::imageops::FilterType::CatmullRom);
        Ok((degrade::jpeg_encode(&big, 92)?, f))
    }

    /// A straightened grey crop of line `i` at `height` pixels, width in proportion. Each corner of
    /// the box moves by up to `jitter` times the line height (drawn from `rng`), independently, so
    /// crops are slightly shifted, scaled and tilted the way an imperfect card and line finder cuts
    /// them. With probability one half the right edge is also pushed out by up to `right_slack` line
    /// heights of empty card, as when the reader's ink search overshoots. Returns `None` for an
    /// index out of range.
    pub fn line_crop<R: Rng + ?Sized>(
        &self,
        i: usize,
        height: u32,
        jitter: f32,
        right_slack: f32,
        rng: &mut R,
    ) -> Option<GrayImage> {
        let r = *self.card_rects.get(i)?;
        let lh = r[3] - r[1];
        let mut j = || {
            if jitter > 0.0 {
                rng.random_range(-jitter..jitter) * lh
            } else {
                0.0
            }
        };
        let x0 = r[0] - 0.25 * lh + j();
        let mut x1 = r[2] + 0.25 * lh + j();
        // Top and bottom edges at the left and at the right end of the box.
        let (y0l, y0r, y1l, y1r) = (r[1] + j(), r[1] + j(), r[3] + j(), r[3] + j());
        if right_slack > 0.0 && rng.random_bool(0.5) {
            x1 += rng.random_range(0.0..right_slack) * lh;
        }
        let mean_h = 0.5 * ((y1l - y0l) + (y1r - y0r));
        let width = ((x1 - x0) / mean_h * height as f32).round().max(1.0) as u32;
        let mut out = GrayImage::new(width, height);
        for u in 0..width {
            let t = (u as f32 + 0.5) / width as f32;
            let x = x0 + t * (x1 - x0);
            let (top, bottom) = (y0l + t * (y0r - y0l), y1l + t * (y1r - y1l));
            for v in 0..height {
                let y = top + (v as f32 + 0.5) / height as f32 * (bottom - top);
                let p = self.card_to_image.apply([x, y]);
                let c = sample_rgb(&self.image, p[0], p[1]);
                let g = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
                out.put_pixel(u, v, Luma([g.round().clamp(0.0, 255.0) as u8]));
            }
        }
        Some(out)
    }
}

fn sample_rgb(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let x = (x - 0.5).clamp(0.0, w - 1.0);
    let y = (y - 0.5).clamp(0.0, h - 1.0);
    let (x0, y0) = (x as u32, y as u32);
    let (x1, y1) = (
        (x0 + 1).min(img.width() - 1),
        (y0 + 1).min(img.height() - 1),
    );
    let (tx, ty) = (x - x0 as f32, y - y0 as f32);
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let p = |xx, yy| f32::from(img.get_pixel(xx, yy).0[k]);
        let a = p(x0, y0) + (p(x1, y0) - p(x0, y0)) * tx;
        let b = p(x0, y1) + (p(x1, y1) - p(x0, y1)) * tx;
        *o = a + (b - a) * ty;
    }
    out
}

/// Renders samples for one seed, tier and font split.
#[derive(Debug)]
pub struct Renderer {
    fonts: FontSet,
    tier: Tier,
    params: DegradeParams,
    seed: u64,
    decode: bool,
    names: vocab::Names,
}

impl Renderer {
    /// A renderer with the preset parameters of `tier`.
    pub fn new(fonts: FontSet, tier: Tier, seed: u64) -> Self {
        Self {
            fonts,
            tier,
            params: tier.params(),
            seed,
            decode: true,
            names: vocab::Names::Lists,
        }
    }

    /// Where the cards' names come from ([`vocab::Names`]: the common-name lists by default, a
    /// wide mix for training, or held-out lists that no training name shares a word with).
    pub fn with_names(mut self, names: vocab::Names) -> Self {
        self.names = names;
        self
    }

    /// Replaces the degradation parameters (the tier name stays in the labels).
    pub fn with_params(mut self, params: DegradeParams) -> Self {
        self.params = params;
        self
    }

    /// Whether [`Sample::image`] holds the decoded JPEG (default) or, to save the decode when only
    /// the file is wanted, the pixels before compression.
    pub fn with_decode(mut self, decode: bool) -> Self {
        self.decode = decode;
        self
    }

    /// The random stream of sample `index`: independent of every other index. The tier and the
    /// font split are mixed into the key, so a held-out test set never repeats a training
    /// identity even when someone reuses the seed.
    pub fn rng(&self, index: u64) -> ChaCha8Rng {
        let tier = match self.tier {
            Tier::Scan => 1u64,
            Tier::Photo => 2,
            Tier::Hard => 3,
            Tier::Unreadable => 4,
            Tier::CloseUp => 5,
            Tier::Copy => 6,
            Tier::Webcam => 7,
            Tier::Tilted => 8,
        };
        let split = match self.fonts.split() {
            Split::Train => 0u64,
            Split::Heldout => 1,
        };
        let key = self.seed ^ (tier << 56) ^ (split << 60) ^ 0x9E37_79B9_7F4A_7C15;
        let mut rng = ChaCha8Rng::seed_from_u64(key);
        rng.set_stream(index);
        rng
    }

    /// Renders sample `index`.
    pub fn render(&self, index: u64) -> Result<Sample, SynthError> {
        let mut rng = self.rng(index);
        let id = identity::generate_with(&mut rng, self.names)?;
        let pl = degrade::place(&mut rng, &self.params, (card::CARD_W_MM, card::CARD_H_MM));
        let card = card::draw(&mut rng, &id, &self.fonts, pl.px_per_mm);
        let (cw, ch) = (card.image.width() as f32, card.image.height() as f32);
        let card_to_image = Homography::from_quads(&geom::rect_quad(0.0, 0.0, cw, ch), &pl.corners)
            .ok_or(SynthError::Geometry)?;
        let radius = card::CORNER_MM * card.px_per_mm;
        let mut image = degrade::compose(&mut rng, &card.image, radius, &pl, &self.params)?;
        if self.params.photocopy {
            degrade::photocopy(&mut rng, &mut image);
        }
        degrade::thumb(
            &mut rng,
            &mut image,
            &pl,
            (card::CARD_W_MM, card::CARD_H_MM),
            &self.params,
        )?;
        degrade::photometric(
            &mut rng,
            &mut image,
            &pl.corners,
            pl.px_per_mm,
            &self.params,
        );
        let jpeg = match self.params.jpeg_quality {
            Some((lo, hi)) => {
                let q = if hi > lo {
                    rng.random_range(lo..=hi)
                } else {
                    lo
                };
                let bytes = degrade::jpeg_encode(&image, q)?;
                if self.decode {
                    image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)?
                        .to_rgb8();
                }
                Some(bytes)
            }
            None => None,
        };
        let lines = card
            .lines
            .iter()
            .map(|l| LineLabel {
                role: l.role,
                key: l.key,
                text: l.text.clone(),
                quad: card_to_image
                    .apply_quad(&geom::rect_quad(l.rect[0], l.rect[1], l.rect[2], l.rect[3])),
            })
            .collect();
        let label = Label {
            file: String::new(),
            seed: self.seed,
            index,
            tier: self.tier,
            fonts: self.fonts.split(),
            faces: card.faces,
            width: image.width(),
            height: image.height(),
            fields: Fields::of(&id, &card.address_lines),
            corners: pl.corners,
            lines,
        };
        Ok(Sample {
            image,
            jpeg,
            label,
            card_to_image,
            card_rects: card.lines.iter().map(|l| l.rect).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A renderer with the tier's preset but a small frame, so the tests stay quick in debug builds.
    fn renderer(split: Split, tier: Tier, seed: u64) -> Renderer {
        let fonts = FontSet::load(&fonts::default_font_dir(), split).expect("fonts");
        let mut params = tier.params();
        params.frame = (params.frame.0 / 2, params.frame.1 / 2);
        Renderer::new(fonts, tier, seed).with_params(params)
    }

    #[test]
    fn same_seed_same_bytes() {
        for tier in [Tier::Scan, Tier::Photo, Tier::Hard] {
            let r = renderer(Split::Train, tier, 42);
            let a = r.render(3).expect("a").file_bytes().expect("bytes");
            let b = r.render(3).expect("b").file_bytes().expect("bytes");
            assert_eq!(a, b, "{tier:?}");
            let c = r.render(4).expect("c").file_bytes().expect("bytes");
            assert_ne!(a, c, "{tier:?}");
        }
    }

    #[test]
    fn labels_are_consistent_and_inside_the_image() {
        for (tier, split) in [
            (Tier::Scan, Split::Train),
            (Tier::Photo, Split::Heldout),
            (Tier::Hard, Split::Train),
        ] {
            let r = renderer(split, tier, 9);
            for i in 0..6 {
                let s = r.render(i).expect("render");
                let l = &s.label;
                for (k, v) in l.fields.pairs() {
                    assert!(!v.trim().is_empty(), "{k} empty");
                }
                let (w, h) = (l.width as f32, l.height as f32);
                let inside = |p: &[f32; 2]| p[0] >= 0.0 && p[1] >= 0.0 && p[0] <= w && p[1] <= h;
                assert!(l.corners.iter().all(inside), "{:?}", l.corners);
                for line in &l.lines {
                    assert!(line.quad.iter().all(inside), "{line:?}");
                    assert!(!line.text.is_empty());
                }
                // Every field appears on some value line.
                let values: Vec<&LineLabel> = l
                    .lines
                    .iter()
                    .filter(|x| x.role == LineRole::Value)
                    .collect();
                let text_of = |key: &str| {
                    values
                        .iter()
                        .filter(|x| x.key == key)
                        .map(|x| x.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                assert_eq!(text_of("nik"), l.fields.nik);
                assert_eq!(text_of("name"), l.fields.name);
                assert_eq!(text_of("address"), l.fields.address);
                assert_eq!(text_of("district"), l.fields.district);
                assert!(text_of("birth").starts_with(&format!("{}, ", l.fields.birth_place)));
                let headers: Vec<&str> = l
                    .lines
                    .iter()
                    .filter(|x| x.role == LineRole::Header)
                    .map(|x| x.text.as_str())
                    .collect();
                assert_eq!(
                    headers,
                    [
                        format!("PROVINSI {}", l.fields.province),
                        l.fields.regency.clone()
                    ]
                );
                assert_eq!(s.image.width(), l.width);
                let crop = s
                    .line_crop(0, 32, 0.05, 1.0, &mut r.rng(1000 + i))
                    .expect("crop");
                assert_eq!(crop.height(), 32);
            }
        }
    }

    #[test]
    fn splits_and_tiers_do_not_share_identities_under_one_seed() {
        let train = renderer(Split::Train, Tier::Photo, 5)
            .render(0)
            .expect("train");
        let held = renderer(Split::Heldout, Tier::Photo, 5)
            .render(0)
            .expect("held");
        let hard = renderer(Split::Train, Tier::Hard, 5)
            .render(0)
            .expect("hard");
        assert_ne!(train.label.fields.nik, held.label.fields.nik);
        assert_ne!(train.label.fields.nik, hard.label.fields.nik);
    }

    #[test]
    fn heldout_faces_never_render_in_train_mode() {
        let r = renderer(Split::Train, Tier::Scan, 1);
        let held: Vec<&str> = fonts::FACES
            .iter()
            .filter(|f| f.split == Split::Heldout)
            .map(|f| f.file)
            .collect();
        for i in 0..30 {
            let s = r.render(i).expect("render");
            for f in s.label.faces {
                assert!(!held.contains(&f), "{f}");
            }
        }
    }
}
