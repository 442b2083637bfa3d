//! The font faces the renderer may use, what each is for, and the fixed train / held-out split.
//!
//! The faces live in `ocr-model/fonts/` with their licences (see `fonts/README.md`) and are read at run
//! time, so the renderer adds nothing to binaries that do not render. The split is a fixed table, not a
//! random draw, so that it never changes between runs: the accuracy test reads cards printed in
//! faces the recogniser never saw during training.

use std::path::{Path, PathBuf};

use ab_glyph::FontVec;

use super::SynthError;

/// What a face is used for on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Labels and values of the field rows, the issue place and date.
    Body,
    /// The two bold header lines (PROVINSI ..., KABUPATEN ...).
    Header,
    /// The large NIK line.
    Nik,
}

/// Which half of the split a face belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Used when rendering training data.
    Train,
    /// Never used for training: only for the accuracy test.
    Heldout,
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "train" => Ok(Split::Train),
            "heldout" => Ok(Split::Heldout),
            _ => Err(format!(
                "unknown font split {s:?} (expected train or heldout)"
            )),
        }
    }
}

/// One entry of the fixed face table.
#[derive(Debug, Clone, Copy)]
pub struct FaceSpec {
    /// File name under the fonts directory.
    pub file: &'static str,
    /// Roles the face may take.
    pub roles: &'static [Role],
    /// How often it is drawn for a role, relative to the other faces of that role.
    pub weight: u32,
    /// Train or held-out.
    pub split: Split,
}

/// The face table. Real cards print the body in an Arial-like sans and the NIK in a bold
/// OCR-style face. Training sees many designs (grotesque, humanist, condensed, monospaced, OCR-A),
/// each also thickened or thinned by the renderer, so the recogniser learns letters rather than one
/// face. The held-out faces are designs no training face is derived from (Noto Sans, humanist; the
/// bold cut of OCR-A), so the test measures generalisation to unseen letterforms. (Open Sans and
/// Droid Sans stay out of training: Noto Sans is drawn from them.)
pub const FACES: &[FaceSpec] = &[
    // Body: labels and values.
    face("LiberationSans-Regular.ttf", &[Role::Body], 4, Split::Train),
    face("DejaVuSans.ttf", &[Role::Body], 2, Split::Train),
    face("Roboto-Regular.ttf", &[Role::Body], 2, Split::Train),
    face(
        "RobotoCondensed-Regular.ttf",
        &[Role::Body],
        1,
        Split::Train,
    ),
    face("Lato-Regular.ttf", &[Role::Body], 2, Split::Train),
    face("Cantarell-Regular.otf", &[Role::Body], 1, Split::Train),
    face("texgyreheros-regular.otf", &[Role::Body], 3, Split::Train),
    face("texgyreheroscn-regular.otf", &[Role::Body], 1, Split::Train),
    face("Karla-Regular.otf", &[Role::Body], 1, Split::Train),
    face("B612-Regular.otf", &[Role::Body], 1, Split::Train),
    // Bold sans: the header, and the NIK on some cards.
    face(
        "LiberationSans-Bold.ttf",
        &[Role::Header, Role::Nik],
        3,
        Split::Train,
    ),
    face("DejaVuSans-Bold.ttf", &[Role::Header], 2, Split::Train),
    face(
        "Roboto-Bold.ttf",
        &[Role::Header, Role::Nik],
        2,
        Split::Train,
    ),
    face("RobotoCondensed-Bold.ttf", &[Role::Header], 1, Split::Train),
    face("Lato-Bold.ttf", &[Role::Header], 2, Split::Train),
    face("Cantarell-Bold.otf", &[Role::Header], 1, Split::Train),
    face(
        "texgyreheros-bold.otf",
        &[Role::Header, Role::Nik],
        2,
        Split::Train,
    ),
    face("Karla-Bold.otf", &[Role::Header], 1, Split::Train),
    face("B612-Bold.otf", &[Role::Header], 1, Split::Train),
    // The NIK: OCR-A most often, as on real cards, and monospaced faces.
    face("OCRA.ttf", &[Role::Nik], 8, Split::Train),
    face("DejaVuSansMono-Bold.ttf", &[Role::Nik], 1, Split::Train),
    face("JetBrainsMono-Bold.ttf", &[Role::Nik], 1, Split::Train),
    face("Hack-Bold.ttf", &[Role::Nik], 1, Split::Train),
    face("Cousine-Bold.ttf", &[Role::Nik], 1, Split::Train),
    face("FiraCode-Bold.ttf", &[Role::Nik], 1, Split::Train),
    face("3270-Regular.ttf", &[Role::Nik], 1, Split::Train),
    face("mononoki-Bold.ttf", &[Role::Nik], 1, Split::Train),
    face("B612Mono-Bold.otf", &[Role::Nik], 1, Split::Train),
    face("Inconsolata.otf", &[Role::Nik], 1, Split::Train),
    face("AnonymousPro-Bold.ttf", &[Role::Nik], 1, Split::Train),
    face("LeagueMono-Bold.otf", &[Role::Nik], 1, Split::Train),
    // Held out.
    face("NotoSans-Regular.ttf", &[Role::Body], 1, Split::Heldout),
    face(
        "NotoSans-Bold.ttf",
        &[Role::Header, Role::Nik],
        1,
        Split::Heldout,
    ),
    face("OCRABold.ttf", &[Role::Nik], 1, Split::Heldout),
];

const fn face(file: &'static str, roles: &'static [Role], weight: u32, split: Split) -> FaceSpec {
    FaceSpec {
        file,
        roles,
        weight,
        split,
    }
}

/// The fonts directory of this crate's source tree (the default for [`FontSet::load`]).
pub fn default_font_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fonts"))
}

/// A loaded face with its table entry.
#[derive(Debug)]
pub struct Face {
    /// Its table entry.
    pub spec: FaceSpec,
    /// The parsed font.
    pub font: FontVec,
}

/// The faces of one half of the split, loaded and indexed by role.
#[derive(Debug)]
pub struct FontSet {
    split: Split,
    faces: Vec<Face>,
    body: Vec<usize>,
    header: Vec<usize>,
    nik: Vec<usize>,
}

impl FontSet {
    /// Loads the faces of `split` from `dir`.
    pub fn load(dir: &Path, split: Split) -> Result<Self, SynthError> {
        let mut set = FontSet {
            split,
            faces: Vec::new(),
            body: Vec::new(),
            header: Vec::new(),
            nik: Vec::new(),
        };
        for spec in FACES.iter().filter(|f| f.split == split) {
            let path = dir.join(spec.file);
            let bytes = std::fs::read(&path).map_err(|source| SynthError::Io {
                path: path.clone(),
                source,
            })?;
            let font = FontVec::try_from_vec(bytes).map_err(|_| SynthError::Font { path })?;
            let i = set.faces.len();
            for role in spec.roles {
                match role {
                    Role::Body => set.body.push(i),
                    Role::Header => set.header.push(i),
                    Role::Nik => set.nik.push(i),
                }
            }
            set.faces.push(Face { spec: *spec, font });
        }
        if set.body.is_empty() || set.header.is_empty() || set.nik.is_empty() {
            return Err(SynthError::NoFace { split });
        }
        Ok(set)
    }

    /// Which half of the split this set holds.
    pub fn split(&self) -> Split {
        self.split
    }

    /// All loaded faces.
    pub fn faces(&self) -> &[Face] {
        &self.faces
    }

    /// Indices into [`Self::faces`] of the faces that may take `role`.
    pub fn for_role(&self, role: Role) -> &[usize] {
        match role {
            Role::Body => &self.body,
            Role::Header => &self.header,
            Role::Nik => &self.nik,
        }
    }

    /// Draws a face for `role` by the table's weights; returns its index.
    pub fn pick<R: rand::Rng + ?Sized>(&self, role: Role, rng: &mut R) -> usize {
        use rand::seq::IndexedRandom;
        self.for_role(role)
            .choose_weighted(rng, |&i| self.faces[i].spec.weight)
            .copied()
            .unwrap_or(0)
    }

    /// The face at an index from [`Self::for_role`].
    pub fn face(&self, i: usize) -> &Face {
        &self.faces[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_faces_on_both_sides() {
        for split in [Split::Train, Split::Heldout] {
            for role in [Role::Body, Role::Header, Role::Nik] {
                assert!(
                    FACES
                        .iter()
                        .any(|f| f.split == split && f.roles.contains(&role)),
                    "{split:?} {role:?}"
                );
            }
        }
    }

    #[test]
    fn every_face_has_every_glyph_the_card_prints() {
        use ab_glyph::Font;
        let printed: String = ('A'..='Z')
            .chain('a'..='z')
            .chain('0'..='9')
            .chain(" '(),-./:".chars())
            .collect();
        for split in [Split::Train, Split::Heldout] {
            let set = FontSet::load(&default_font_dir(), split).expect("fonts");
            for f in set.faces() {
                let missing: String = printed
                    .chars()
                    .filter(|c| f.font.glyph_id(*c).0 == 0)
                    .collect();
                assert!(missing.is_empty(), "{} lacks {missing:?}", f.spec.file);
            }
        }
    }

    #[test]
    fn weighted_picks_follow_the_table_and_stay_in_the_role() {
        use rand::SeedableRng;
        let set = FontSet::load(&default_font_dir(), Split::Train).expect("fonts");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut ocra = 0;
        for _ in 0..2000 {
            let i = set.pick(Role::Nik, &mut rng);
            assert!(set.face(i).spec.roles.contains(&Role::Nik));
            ocra += usize::from(set.face(i).spec.file == "OCRA.ttf");
        }
        let total: u32 = set
            .for_role(Role::Nik)
            .iter()
            .map(|&i| set.face(i).spec.weight)
            .sum();
        let expected = 2000.0 * 8.0 / f64::from(total);
        assert!(
            (ocra as f64 - expected).abs() < 0.25 * expected,
            "{ocra} vs {expected}"
        );
    }

    #[test]
    fn sets_load_and_never_mix() {
        let dir = default_font_dir();
        let train = FontSet::load(&dir, Split::Train).expect("train fonts");
        let held = FontSet::load(&dir, Split::Heldout).expect("held-out fonts");
        assert!(train.faces().iter().all(|f| f.spec.split == Split::Train));
        assert!(held.faces().iter().all(|f| f.spec.split == Split::Heldout));
        for f in train.faces() {
            assert!(held.faces().iter().all(|h| h.spec.file != f.spec.file));
        }
    }
}
