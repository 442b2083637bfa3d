//! Clinic Edge's shared vocabulary: the Automerge documents (patient, queue day, clinic), their ids and
//! deterministic genesis, the ticket status lattice, the invariants a document must keep after any merge,
//! NIK rules and the domain events with their CloudEvents envelope.
//!
//! Pure: no I/O, no async, no clock. Callers pass the time (`now_ms`) and the actor in.
//!
//! # Layout
//! - [`ids`]: document ids, patient ids derived from the NIK by HMAC, ticket ids.
//! - [`nik`]: NIK parsing and validation (region, birth date with +40 for women, serial).
//! - [`region`]: the compact Kemendagri region table (provinces, regencies, districts).
//! - [`genesis`]: the deterministic first change every replica of a document shares.
//! - [`load`]: loading outside bytes without letting an automerge panic through.
//! - [`patient`], [`queue`], [`clinic`]: the document types and the operations on them.
//! - [`event`]: domain events and the CloudEvents 1.0 envelope.

pub mod clinic;
pub mod event;
pub mod genesis;
pub mod ids;
pub mod load;
pub mod nik;
pub mod patient;
pub mod queue;
pub mod region;
mod time_fmt;

pub use automerge;
pub use autosurgeon;

/// Errors of the document layer: a change that automerge or autosurgeon refused, or a document whose
/// shape the schema does not recognise.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("automerge refused the operation")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("the document could not be read as the schema expects")]
    Hydrate(#[from] autosurgeon::HydrateError),
    #[error("the document could not be written")]
    Reconcile(#[from] autosurgeon::ReconcileError),
    #[error("automerge could not decode the bytes (it panicked on them)")]
    Undecodable,
    #[error("the bytes hold an Automerge chunk of type {0}, which Clinic Edge never writes")]
    UnsupportedChunk(u8),
    #[error("the document's {0} is missing or of the wrong type")]
    Malformed(&'static str),
    #[error("the document is not a {expected} document (found kind {found:?})")]
    WrongKind {
        expected: &'static str,
        found: Option<String>,
    },
}
