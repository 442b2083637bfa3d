//! The KTP reader: a synthetic e-KTP card renderer for training and accuracy tests, later the recogniser.
//!
//! # Layout
//! - [`synth`] (feature `synth`, on by default): deterministic synthetic identities, the e-KTP card
//!   layout, glyph rendering with open-licence fonts split into training and held-out faces, and
//!   photographic degradations in three tiers. The `render-ktp` binary writes datasets from it.
//!
//! The clinic node will depend on this crate with `default-features = false` once the recogniser
//! (ONNX through tract) lands here; the renderer and its dependencies stay out of the node.

#[cfg(feature = "synth")]
pub mod synth;
