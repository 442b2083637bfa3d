//! The KTP reader: a synthetic e-KTP card renderer for training and accuracy tests, later the recogniser.
//!
//! # Layout
//! - [`synth`] (feature `synth`, on by default): deterministic synthetic identities, the e-KTP card
//!   layout, glyph rendering with open-licence fonts split into training and held-out faces, and
//!   photographic degradations in three tiers. The `render-ktp` binary writes datasets from it.
//! - [`ctc`]: greedy and digit-constrained CTC decoding of the line recogniser's output.
//! - [`fields`]: from recognised line texts to the validated fields of the scan JSON, with warnings.
//!
//! The clinic node will depend on this crate with `default-features = false` once the recogniser
//! (ONNX through tract) lands here; the renderer and its dependencies stay out of the node.

pub mod ctc;
pub mod fields;
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
