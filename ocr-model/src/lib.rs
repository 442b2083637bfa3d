//! The KTP reader: photo to validated fields with confidences, and the synthetic e-KTP renderer that
//! trains and tests it.
//!
//! # Layout
//! - [`reader`] (feature `reader`): bytes -> fields or a refusal; [`detect`] finds the card,
//!   [`layout`] straightens it and cuts the lines, [`recognizer`] runs the shipped ONNX line model
//!   in tract. [`eval`] (both features) scores the reader on rendered cards.
//! - [`geom`]: points, quadrilaterals, homographies (shared by the renderer and the reader).
//! - [`synth`] (feature `synth`, on by default): deterministic synthetic identities, the e-KTP card
//!   layout, glyph rendering with open-licence fonts split into training and held-out faces, and
//!   photographic degradations in three tiers. The `render-ktp` binary writes datasets from it.
//! - [`ctc`]: greedy and digit-constrained CTC decoding of the line recogniser's output.
//! - [`spelling`]: a character n-gram model of Indonesian spelling learned from the register's
//!   place names, and the CTC beam search that uses it on name and address lines.
//! - [`fields`]: from recognised line texts to the validated fields of the scan JSON, with warnings.
//!
//! The clinic node depends on this crate with `default-features = false, features = ["reader"]`:
//! the renderer and its dependencies stay out of the node.

pub mod ctc;
#[cfg(feature = "reader")]
pub mod detect;
#[cfg(all(feature = "reader", feature = "synth"))]
pub mod eval;
pub mod fields;
pub mod geom;
#[cfg(feature = "reader")]
pub mod layout;
#[cfg(feature = "reader")]
pub mod reader;
#[cfg(feature = "reader")]
pub mod recognizer;
pub mod spelling;
#[cfg(feature = "synth")]
pub mod synth;

#[cfg(test)]
mod tidy {
    /// Every source file starts with a `//!` line saying what it owns.
    #[test]
    fn every_file_starts_with_a_module_doc() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).expect("read src").flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        assert!(files.len() > 5);
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read file");
            assert!(
                text.starts_with("//! "),
                "{} lacks a leading //! line",
                f.display()
            );
        }
    }
}
