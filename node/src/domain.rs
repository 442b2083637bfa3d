//! Domain commands (what an operator, a kiosk or an admin asks the node to change) and the errors they
//! can fail with. Commands are executed by the writer ([`crate::store::writer`]), one SQLite savepoint each.

use crdt_schema::{clinic::ClinicConfig, patient::PatientFields, queue::PriorityGroup};

/// A change request. Every variant becomes at most one Automerge change, its outbox events and its
/// projection rows, committed together.
#[derive(Debug, Clone)]
pub enum Command {
    RegisterPatient {
        nik: String,
        fields: PatientFields,
    },
    UpdatePatient {
        id: String,
        patch: PatientFields,
    },
    IssueTicket {
        service: String,
        priority: Option<PriorityGroup>,
        patient_id: Option<String>,
    },
    CallNext {
        service: String,
        counter: String,
    },
    Transition {
        ticket_id: String,
        action: TransitionRequest,
    },
    UpdateClinic {
        config: Box<ClinicConfig>,
    },
}

/// A transition as the API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionRequest {
    Call { counter: String },
    Recall,
    Start { counter: Option<String> },
    Complete { next_service: Option<String> },
    Skip,
    NoShow,
    Cancel { reason: String },
}

/// Why a command was refused. Every variant has a stable code and a plain message; none changes anything.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The request is well formed but its content is not acceptable (422).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// Something named does not exist (404).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The request conflicts with the current state (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The node could not store the change (500); nothing was acknowledged.
    #[error("the node could not store the change")]
    Store(#[from] crate::store::StoreError),
}

impl DomainError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        DomainError::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        DomainError::Conflict {
            code,
            message: message.into(),
        }
    }
}

impl From<crdt_schema::patient::PatientError> for DomainError {
    fn from(e: crdt_schema::patient::PatientError) -> Self {
        DomainError::invalid(e.code(), e.to_string())
    }
}

impl From<crdt_schema::queue::QueueError> for DomainError {
    fn from(e: crdt_schema::queue::QueueError) -> Self {
        use crdt_schema::queue::QueueError as Q;
        match e {
            Q::UnknownTicket(id) => DomainError::not_found(
                "ticket_not_found",
                format!("Tiket {id} tidak ditemukan (ticket not found)"),
            ),
            Q::IllegalTransition { from, action } => DomainError::conflict(
                "illegal_transition",
                format!(
                    "Tiket berstatus {} tidak bisa di-{} (a {} ticket cannot take {})",
                    from.as_str(),
                    action.as_str(),
                    from.as_str(),
                    action.as_str()
                ),
            ),
            Q::NumbersExhausted { service } => DomainError::conflict(
                "numbers_exhausted",
                format!("Nomor antrean layanan {service} hari ini sudah habis"),
            ),
            Q::BadCancelReason => DomainError::invalid("invalid_field", e.to_string()),
            Q::Doc(d) => DomainError::Store(crate::store::StoreError::Doc {
                doc_id: "queue".into(),
                source: d,
            }),
        }
    }
}

impl From<crdt_schema::DocError> for DomainError {
    fn from(e: crdt_schema::DocError) -> Self {
        DomainError::Store(crate::store::StoreError::Doc {
            doc_id: "document".into(),
            source: Box::new(e),
        })
    }
}
