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
    /// Train or held-out.
    pub split: Split,
}

/// The face table. Real cards print the body in an Arial-like sans and the NIK in a bold
/// OCR-style face; the held-out faces are a different sans design (Noto Sans, humanist rather than
/// grotesque) and the bold cut of OCR-A, so the test measures generalisation to unseen letterforms.
pub const FACES: &[FaceSpec] = &[
    FaceSpec {
        file: "LiberationSans-Regular.ttf",
        roles: &[Role::Body],
        split: Split::Train,
    },
    FaceSpec {
        file: "DejaVuSans.ttf",
        roles: &[Role::Body],
        split: Split::Train,
    },
    FaceSpec {
        file: "LiberationSans-Bold.ttf",
        roles: &[Role::Header, Role::Nik],
        split: Split::Train,
    },
    FaceSpec {
        file: "DejaVuSans-Bold.ttf",
        roles: &[Role::Header],
        split: Split::Train,
    },
    FaceSpec {
        file: "DejaVuSansMono-Bold.ttf",
        roles: &[Role::Nik],
        split: Split::Train,
    },
    FaceSpec {
        file: "OCRA.ttf",
        roles: &[Role::Nik],
        split: Split::Train,
    },
    FaceSpec {
        file: "NotoSans-Regular.ttf",
        roles: &[Role::Body],
        split: Split::Heldout,
    },
    FaceSpec {
        file: "NotoSans-Bold.ttf",
        roles: &[Role::Header, Role::Nik],
        split: Split::Heldout,
    },
    FaceSpec {
        file: "OCRABold.ttf",
        roles: &[Role::Nik],
        split: Split::Heldout,
    },
];

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
