//! Identifiers: document ids, the keyed hash that turns a NIK into a patient id, ticket and event ids.
//!
//! A patient id is `pat_` + base32 of HMAC-SHA256(deployment secret, NIK), truncated to 160 bits, so the
//! same NIK registered at two clinics of one deployment gives the same document id, while the id reveals
//! nothing about the NIK to anyone without the secret.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::nik::Nik;

/// The deployment's secret key for deriving patient ids. Every node and the hub of one deployment share it.
#[derive(Clone)]
pub struct DeploymentSecret([u8; 32]);

impl fmt::Debug for DeploymentSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeploymentSecret(..)")
    }
}

impl DeploymentSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses the secret from its hex form (64 hex digits).
    pub fn from_hex(s: &str) -> Result<Self, IdError> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.trim().as_bytes())
            .map_err(|_| IdError::BadSecret)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| IdError::BadSecret)?;
        Ok(Self(arr))
    }

    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }

    /// The patient id for a (validated) NIK.
    pub fn patient_id(&self, nik: &Nik) -> PatientId {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"clinic-edge/patient-id/v1\0");
        mac.update(nik.as_str().as_bytes());
        let digest = mac.finalize().into_bytes();
        let b32 = data_encoding::BASE32_NOPAD
            .encode(&digest[..20])
            .to_ascii_lowercase();
        PatientId(format!("pat_{b32}"))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("the deployment secret must be 64 hexadecimal digits")]
    BadSecret,
    #[error("{0:?} is not a valid {1} id")]
    Malformed(String, &'static str),
}

/// A patient document's id (`pat_` + 32 base32 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PatientId(String);

impl PatientId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = s.len() == 36
            && s.starts_with("pat_")
            && s[4..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Malformed(s.to_owned(), "patient"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn doc_id(&self) -> DocId {
        DocId(format!("patient/{}", self.0))
    }
}

impl fmt::Display for PatientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A clinic's id: lower-case letters, digits, `-` and `_`, 1 to 64 characters (e.g. `pkm-kedungkandang`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClinicId(String);

impl ClinicId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Malformed(s.to_owned(), "clinic"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn doc_id(&self) -> DocId {
        DocId(format!("clinic/{}", self.0))
    }
}

impl fmt::Display for ClinicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A service day in the clinic's local calendar (`YYYY-MM-DD`).
pub type ServiceDate = time::Date;

/// Formats a service date as `YYYY-MM-DD`.
pub fn format_date(d: ServiceDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<ServiceDate> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if s.len() != 10 {
        return None;
    }
    time::Date::parse(s, &fmt).ok()
}

/// The id of a clinic's queue document for one service day: `queue/<clinic>/<yyyy-mm-dd>`.
pub fn queue_day_doc_id(clinic: &ClinicId, date: ServiceDate) -> DocId {
    DocId(format!("queue/{}/{}", clinic.as_str(), format_date(date)))
}

/// Any document's id: `patient/pat_...`, `queue/<clinic>/<date>` or `clinic/<clinic>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId(String);

/// The kinds of document the schema knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKind {
    Patient,
    QueueDay,
    Clinic,
}

impl DocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Patient => "patient",
            DocKind::QueueDay => "queue_day",
            DocKind::Clinic => "clinic",
        }
    }
}

impl DocId {
    /// Parses and checks a document id of any known kind.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let id = Self(s.to_owned());
        id.kind()
            .map(|_| id)
            .ok_or_else(|| IdError::Malformed(s.to_owned(), "document"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document's kind, or `None` when the id is malformed.
    pub fn kind(&self) -> Option<DocKind> {
        let mut parts = self.0.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("patient"), Some(p), None, None) if PatientId::parse(p).is_ok() => {
                Some(DocKind::Patient)
            }
            (Some("clinic"), Some(c), None, None) if ClinicId::parse(c).is_ok() => {
                Some(DocKind::Clinic)
            }
            (Some("queue"), Some(c), Some(d), None)
                if ClinicId::parse(c).is_ok() && parse_date(d).is_some() =>
            {
                Some(DocKind::QueueDay)
            }
            _ => None,
        }
    }

    /// For a queue-day document: its clinic and date.
    pub fn queue_day_parts(&self) -> Option<(ClinicId, ServiceDate)> {
        let mut parts = self.0.split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("queue"), Some(c), Some(d)) => Some((ClinicId::parse(c).ok()?, parse_date(d)?)),
            _ => None,
        }
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new ticket id: `tkt_` + a UUIDv7 (time-ordered, unique across nodes without coordination).
pub fn new_ticket_id() -> String {
    format!("tkt_{}", uuid::Uuid::now_v7().simple())
}

/// Checks the shape of a ticket id.
pub fn is_ticket_id(s: &str) -> bool {
    s.len() == 36 && s.starts_with("tkt_") && s[4..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Sixteen bytes derived from a label by SHA-256, used for deterministic actor ids.
pub(crate) fn derived_16(label: &str) -> [u8; 16] {
    let digest = Sha256::digest(label.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(b: u8) -> DeploymentSecret {
        DeploymentSecret::from_bytes([b; 32])
    }

    #[test]
    fn patient_id_is_stable_keyed_and_hides_the_nik() {
        let nik = Nik::parse("3507224903820003").unwrap();
        let a = secret(1).patient_id(&nik);
        assert_eq!(a, secret(1).patient_id(&nik));
        assert_ne!(a, secret(2).patient_id(&nik));
        assert!(!a.as_str().contains("3507"));
        assert!(PatientId::parse(a.as_str()).is_ok());
        assert_eq!(a.doc_id().kind(), Some(DocKind::Patient));
    }

    #[test]
    fn doc_ids_parse_by_kind() {
        assert_eq!(
            DocId::parse("clinic/pkm-1").unwrap().kind(),
            Some(DocKind::Clinic)
        );
        let q = DocId::parse("queue/pkm-1/2026-11-22").unwrap();
        assert_eq!(q.kind(), Some(DocKind::QueueDay));
        assert_eq!(
            q.queue_day_parts().unwrap().1,
            time::macros::date!(2026 - 11 - 22)
        );
        for bad in [
            "",
            "queue/pkm-1/2026-13-01",
            "clinic/PKM",
            "patient/pat_x",
            "queue/a/2026-11-22/x",
        ] {
            assert!(DocId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_hex_round_trips() {
        let s = secret(7);
        assert_eq!(
            DeploymentSecret::from_hex(&s.to_hex()).unwrap().as_bytes(),
            s.as_bytes()
        );
        assert_eq!(
            DeploymentSecret::from_hex("abc").unwrap_err(),
            IdError::BadSecret
        );
    }

    #[test]
    fn ticket_ids_are_unique_and_well_formed() {
        let a = new_ticket_id();
        let b = new_ticket_id();
        assert_ne!(a, b);
        assert!(is_ticket_id(&a), "{a}");
        assert!(!is_ticket_id("tkt_zz"));
    }
}
