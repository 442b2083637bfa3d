//! Domain events and their CloudEvents 1.0 JSON envelope.
//!
//! Events carry ids and numbers only, never personal data: a patient event names the patient id and the
//! names of fields that changed, not their values. Each event has a UUIDv7 id (the idempotency key
//! downstream), a `source` naming the clinic and node, a `subject` naming the aggregate, and a per-aggregate
//! sequence number `seq` (an extension attribute) that increases by one with each event of that aggregate
//! from that source.

use serde::{Deserialize, Serialize};

/// The kinds of domain event, each with its CloudEvents `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    PatientRegistered,
    PatientUpdated,
    TicketIssued,
    TicketCalled,
    TicketRecalled,
    TicketStarted,
    TicketCompleted,
    TicketSkipped,
    TicketNoShow,
    TicketCancelled,
    ClinicUpdated,
}

impl EventKind {
    pub fn type_name(self) -> &'static str {
        match self {
            EventKind::PatientRegistered => "id.clinic.patient.registered.v1",
            EventKind::PatientUpdated => "id.clinic.patient.updated.v1",
            EventKind::TicketIssued => "id.clinic.ticket.issued.v1",
            EventKind::TicketCalled => "id.clinic.ticket.called.v1",
            EventKind::TicketRecalled => "id.clinic.ticket.recalled.v1",
            EventKind::TicketStarted => "id.clinic.ticket.started.v1",
            EventKind::TicketCompleted => "id.clinic.ticket.completed.v1",
            EventKind::TicketSkipped => "id.clinic.ticket.skipped.v1",
            EventKind::TicketNoShow => "id.clinic.ticket.no_show.v1",
            EventKind::TicketCancelled => "id.clinic.ticket.cancelled.v1",
            EventKind::ClinicUpdated => "id.clinic.clinic.updated.v1",
        }
    }

    /// The event a ticket transition produces.
    pub fn for_transition(kind: crate::queue::TransitionKind) -> Self {
        use crate::queue::TransitionKind as T;
        match kind {
            T::Call => EventKind::TicketCalled,
            T::Recall => EventKind::TicketRecalled,
            T::Start => EventKind::TicketStarted,
            T::Complete => EventKind::TicketCompleted,
            T::Skip => EventKind::TicketSkipped,
            T::NoShow => EventKind::TicketNoShow,
            T::Cancel => EventKind::TicketCancelled,
        }
    }
}

/// The data of a ticket event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketData {
    pub ticket_id: String,
    pub queue_day: String,
    pub service: String,
    pub number: u64,
    pub display: String,
    pub status: crate::queue::Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    pub round: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_ticket_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_ticket_id: Option<String>,
}

impl TicketData {
    pub fn from_ticket(queue_day: &str, id: &str, t: &crate::queue::Ticket) -> Self {
        let d = crate::queue::derive(t);
        Self {
            ticket_id: id.to_owned(),
            queue_day: queue_day.to_owned(),
            service: t.service.clone(),
            number: t.number,
            display: t.display.clone(),
            status: d.status,
            priority: t.priority.clone(),
            patient_id: t.patient_id.clone(),
            counter: d.counter,
            round: d.round,
            reason: d.cancel_reason,
            next_ticket_id: d.next_ticket,
            origin_ticket_id: t.origin.clone(),
        }
    }
}

/// The data of a patient event: the id and the names (not values) of fields set or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientData {
    pub patient_id: String,
    pub fields: Vec<String>,
}

/// A CloudEvents 1.0 envelope in its JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub subject: String,
    pub time: String,
    pub datacontenttype: String,
    /// Per-aggregate sequence number (extension attribute).
    pub seq: u64,
    pub data: serde_json::Value,
}

impl CloudEvent {
    /// Builds an event with a fresh UUIDv7 id.
    pub fn new(
        kind: EventKind,
        source: &str,
        subject: &str,
        time_ms: i64,
        seq: u64,
        data: impl Serialize,
    ) -> Self {
        Self {
            specversion: "1.0".into(),
            id: uuid::Uuid::now_v7().to_string(),
            source: source.to_owned(),
            ty: kind.type_name().to_owned(),
            subject: subject.to_owned(),
            time: crate::time_fmt::rfc3339_ms(time_ms),
            datacontenttype: "application/json".into(),
            seq,
            data: serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// The `source` of events from a node: `/clinics/<clinic>/nodes/<node>`.
pub fn node_source(clinic: &str, node: &str) -> String {
    format!("/clinics/{clinic}/nodes/{node}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_the_cloudevents_attributes() {
        let e = CloudEvent::new(
            EventKind::PatientRegistered,
            &node_source("pkm", "n1"),
            "pat_x",
            1_700_000_000_000,
            1,
            PatientData {
                patient_id: "pat_x".into(),
                fields: vec!["name".into()],
            },
        );
        let v = serde_json::to_value(&e).unwrap();
        for k in [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "seq",
            "data",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["type"], "id.clinic.patient.registered.v1");
        assert_eq!(uuid::Uuid::parse_str(&e.id).unwrap().get_version_num(), 7);
        assert_eq!(v["time"], "2023-11-14T22:13:20Z");
    }
}
