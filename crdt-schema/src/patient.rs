//! The patient document: one per person, id derived from the NIK (see [`crate::ids`]), holding the KTP
//! fields, a phone number, where and when the person was first registered, and privacy flags.
//!
//! Personal data lives only here: queue documents, events and logs carry the patient id. Concurrent edits of
//! one field at two places stay visible as conflicts ([`Patient::conflicts`]) until someone resolves them.

use automerge::{ActorId, Automerge, Change, ROOT};
use autosurgeon::{Hydrate, Reconcile, reconcile_prop};
use serde::{Deserialize, Serialize};

use crate::{
    DocError,
    genesis::{self, commit},
    ids::{DocId, DocKind, PatientId},
    nik::{Nik, NikError, Sex},
};

/// The KTP fields and contact data of a person. Values are upper case as printed on the card.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hydrate, Reconcile, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientFields {
    #[autosurgeon(missing = "Default::default")]
    pub nik: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub name: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub birth_place: Option<String>,
    /// `YYYY-MM-DD`.
    #[autosurgeon(missing = "Default::default")]
    pub birth_date: Option<String>,
    /// `LAKI-LAKI` or `PEREMPUAN`.
    #[autosurgeon(missing = "Default::default")]
    pub sex: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub blood_type: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub address: Option<String>,
    /// `018/010`.
    #[autosurgeon(missing = "Default::default")]
    pub rt_rw: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub village: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub district: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub regency: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub province: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub religion: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub marital_status: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub occupation: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub nationality: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub phone: Option<String>,
}

/// Names of the fields, in the order above.
pub const FIELD_NAMES: [&str; 17] = [
    "nik",
    "name",
    "birth_place",
    "birth_date",
    "sex",
    "blood_type",
    "address",
    "rt_rw",
    "village",
    "district",
    "regency",
    "province",
    "religion",
    "marital_status",
    "occupation",
    "nationality",
    "phone",
];

impl PatientFields {
    /// The value of a field by name.
    pub fn get(&self, name: &str) -> Option<&Option<String>> {
        Some(match name {
            "nik" => &self.nik,
            "name" => &self.name,
            "birth_place" => &self.birth_place,
            "birth_date" => &self.birth_date,
            "sex" => &self.sex,
            "blood_type" => &self.blood_type,
            "address" => &self.address,
            "rt_rw" => &self.rt_rw,
            "village" => &self.village,
            "district" => &self.district,
            "regency" => &self.regency,
            "province" => &self.province,
            "religion" => &self.religion,
            "marital_status" => &self.marital_status,
            "occupation" => &self.occupation,
            "nationality" => &self.nationality,
            "phone" => &self.phone,
            _ => return None,
        })
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "nik" => &mut self.nik,
            "name" => &mut self.name,
            "birth_place" => &mut self.birth_place,
            "birth_date" => &mut self.birth_date,
            "sex" => &mut self.sex,
            "blood_type" => &mut self.blood_type,
            "address" => &mut self.address,
            "rt_rw" => &mut self.rt_rw,
            "village" => &mut self.village,
            "district" => &mut self.district,
            "regency" => &mut self.regency,
            "province" => &mut self.province,
            "religion" => &mut self.religion,
            "marital_status" => &mut self.marital_status,
            "occupation" => &mut self.occupation,
            "nationality" => &mut self.nationality,
            "phone" => &mut self.phone,
            _ => return None,
        })
    }

    /// Overlays every field that `patch` sets (`Some`), returning the names of fields whose value changed.
    pub fn apply_patch(&mut self, patch: &PatientFields) -> Vec<&'static str> {
        let mut changed = Vec::new();
        for name in FIELD_NAMES {
            let new = patch.get(name).expect("known field").clone();
            if let Some(v) = new {
                let slot = self.get_mut(name).expect("known field");
                if slot.as_deref() != Some(v.as_str()) {
                    *slot = Some(v);
                    changed.push(name);
                }
            }
        }
        changed
    }
}

/// Closed vocabularies of the KTP, as printed.
pub mod vocab {
    pub const SEX: [&str; 2] = ["LAKI-LAKI", "PEREMPUAN"];
    pub const BLOOD_TYPE: [&str; 9] = ["A", "B", "AB", "O", "-", "A+", "B+", "AB+", "O+"];
    pub const RELIGION: [&str; 7] = [
        "ISLAM",
        "KRISTEN",
        "KATOLIK",
        "HINDU",
        "BUDDHA",
        "KHONGHUCU",
        "KEPERCAYAAN TERHADAP TUHAN YME",
    ];
    pub const MARITAL_STATUS: [&str; 4] = ["BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"];
    pub const NATIONALITY: [&str; 2] = ["WNI", "WNA"];
}

/// Why patient data was refused. Messages never repeat the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatientError {
    #[error(transparent)]
    Nik(#[from] NikError),
    #[error("field {0} is required")]
    Missing(&'static str),
    #[error("field {field} is not valid: {why}")]
    Invalid {
        field: &'static str,
        why: &'static str,
    },
    #[error("the birth date does not match the one encoded in the NIK")]
    BirthDateMismatch,
    #[error("the sex does not match the one encoded in the NIK")]
    SexMismatch,
    #[error("the NIK cannot be changed: register the person under the new NIK instead")]
    NikImmutable,
}

impl PatientError {
    pub fn code(&self) -> &'static str {
        match self {
            PatientError::Nik(e) => e.code(),
            PatientError::Missing(_) => "missing_field",
            PatientError::Invalid { .. } => "invalid_field",
            PatientError::BirthDateMismatch => "nik_birth_date_mismatch",
            PatientError::SexMismatch => "nik_sex_mismatch",
            PatientError::NikImmutable => "nik_immutable",
        }
    }
}

fn check_vocab(
    field: &'static str,
    value: &Option<String>,
    allowed: &[&str],
) -> Result<(), PatientError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(PatientError::Invalid {
            field,
            why: "not one of the values printed on a KTP",
        }),
        _ => Ok(()),
    }
}

/// Normalises (trim, upper case, collapse spaces; phone digits only) and validates fields against the NIK.
/// `current_year` resolves the NIK's two-digit birth year.
pub fn normalise_and_validate(
    fields: &mut PatientFields,
    nik: &Nik,
    current_year: i32,
) -> Result<(), PatientError> {
    for name in FIELD_NAMES {
        let slot = fields.get_mut(name).expect("known field");
        if let Some(v) = slot.as_mut() {
            let collapsed = v.split_whitespace().collect::<Vec<_>>().join(" ");
            *v = if name == "phone" {
                collapsed
            } else {
                collapsed.to_uppercase()
            };
            if v.is_empty() {
                *slot = None;
            } else if v.chars().count() > 200 {
                return Err(PatientError::Invalid {
                    field: name,
                    why: "longer than 200 characters",
                });
            }
        }
    }
    match &fields.name {
        None => return Err(PatientError::Missing("name")),
        Some(n) if !n.chars().all(|c| c.is_alphabetic() || " .,'-`".contains(c)) => {
            return Err(PatientError::Invalid {
                field: "name",
                why: "only letters, spaces and . , ' - are allowed",
            });
        }
        _ => {}
    }
    let born = nik
        .birth_date(current_year)
        .ok_or(PatientError::Nik(NikError::BirthDate))?;
    match &fields.birth_date {
        Some(d) => {
            let parsed = crate::ids::parse_date(d).ok_or(PatientError::Invalid {
                field: "birth_date",
                why: "must be YYYY-MM-DD",
            })?;
            if parsed != born {
                return Err(PatientError::BirthDateMismatch);
            }
        }
        None => fields.birth_date = Some(crate::ids::format_date(born)),
    }
    match fields.sex.as_deref().map(|s| Sex::from_ktp(s).ok_or(s)) {
        Some(Ok(s)) if s != nik.sex() => return Err(PatientError::SexMismatch),
        Some(Err(_)) => {
            return Err(PatientError::Invalid {
                field: "sex",
                why: "must be LAKI-LAKI or PEREMPUAN",
            });
        }
        _ => fields.sex = Some(nik.sex().as_ktp().to_owned()),
    }
    check_vocab("blood_type", &fields.blood_type, &vocab::BLOOD_TYPE)?;
    check_vocab("religion", &fields.religion, &vocab::RELIGION)?;
    check_vocab(
        "marital_status",
        &fields.marital_status,
        &vocab::MARITAL_STATUS,
    )?;
    check_vocab("nationality", &fields.nationality, &vocab::NATIONALITY)?;
    if let Some(rt) = &fields.rt_rw {
        let ok = rt.len() == 7
            && rt.as_bytes()[3] == b'/'
            && rt
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 3 || b.is_ascii_digit());
        if !ok {
            return Err(PatientError::Invalid {
                field: "rt_rw",
                why: "must look like 018/010",
            });
        }
    }
    if let Some(p) = &fields.phone {
        let digits = p.trim_start_matches('+');
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PatientError::Invalid {
                field: "phone",
                why: "must be 8 to 15 digits, optionally after +",
            });
        }
    }
    fields.nik = Some(nik.as_str().to_owned());
    Ok(())
}

/// Where and when a person was first registered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Registration {
    #[autosurgeon(missing = "Default::default")]
    pub clinic: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub node: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub at: Option<i64>,
}

/// Privacy flags (UU PDP requests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Privacy {
    #[autosurgeon(missing = "Default::default")]
    pub restricted: Option<bool>,
}

/// The typed content of a patient document.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct PatientState {
    pub schema: u64,
    pub kind: String,
    pub id: String,
    pub fields: PatientFields,
    pub registration: Registration,
    pub privacy: Privacy,
}

/// Writes the named fields one key at a time. Fields left `None` are never written, so a registration
/// that lacks a value cannot override, as a concurrent null, one made elsewhere that has it.
fn put_fields(
    tx: &mut automerge::transaction::Transaction<'_>,
    fields: &PatientFields,
    names: &[&'static str],
) -> Result<(), DocError> {
    use automerge::{ReadDoc, transaction::Transactable};
    let obj = match tx.get(ROOT, "fields")? {
        Some((automerge::Value::Object(_), id)) => id,
        _ => {
            return Err(DocError::WrongKind {
                expected: "patient",
                found: None,
            });
        }
    };
    for name in names {
        if let Some(Some(v)) = fields.get(name) {
            tx.put(&obj, *name, v.as_str())?;
        }
    }
    Ok(())
}

/// A field whose concurrent edits disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldConflict {
    pub field: &'static str,
    pub values: Vec<String>,
}

/// A patient document with its hydrated state.
#[derive(Debug)]
pub struct Patient {
    doc: Automerge,
    state: PatientState,
}

impl Patient {
    /// A new patient document from genesis, holding validated fields.
    pub fn create(
        id: &PatientId,
        actor: ActorId,
        fields: &PatientFields,
        registration: Registration,
        now_ms: i64,
    ) -> Result<(Self, Option<Change>), DocError> {
        let mut doc = genesis::genesis(&id.doc_id(), actor)?;
        let names: Vec<&'static str> = FIELD_NAMES
            .into_iter()
            .filter(|n| matches!(fields.get(n), Some(Some(_))))
            .collect();
        let (_, change) = commit(&mut doc, now_ms, "register", |tx| -> Result<(), DocError> {
            put_fields(tx, fields, &names)?;
            reconcile_prop(tx, ROOT, "registration", &registration)?;
            Ok(())
        })?;
        Ok((Self::from_doc(doc)?, change))
    }

    pub fn from_doc(doc: Automerge) -> Result<Self, DocError> {
        genesis::expect_kind(&doc, DocKind::Patient)?;
        let state = autosurgeon::hydrate(&doc)?;
        Ok(Self { doc, state })
    }

    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    pub fn state(&self) -> &PatientState {
        &self.state
    }

    pub fn id(&self) -> PatientId {
        let raw = self
            .state
            .id
            .strip_prefix("patient/")
            .unwrap_or(&self.state.id);
        PatientId::parse(raw).expect("hydrated from a patient document")
    }

    pub fn doc_id(&self) -> DocId {
        self.id().doc_id()
    }

    /// Writes changed fields (only the ones that differ become operations). Returns the changed names.
    pub fn update(
        &mut self,
        patch: &PatientFields,
        now_ms: i64,
    ) -> Result<(Vec<&'static str>, Option<Change>), DocError> {
        let mut next = self.state.fields.clone();
        let changed = next.apply_patch(patch);
        if changed.is_empty() {
            return Ok((changed, None));
        }
        let (_, change) = commit(&mut self.doc, now_ms, "update", |tx| {
            put_fields(tx, &next, &changed)
        })?;
        self.state.fields = next;
        Ok((changed, change))
    }

    pub fn merge(&mut self, other: &mut Automerge) -> Result<(), DocError> {
        self.doc.merge(other)?;
        self.state = autosurgeon::hydrate(&self.doc)?;
        Ok(())
    }

    pub fn load_incremental(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        crate::load::load_incremental(&mut self.doc, bytes)?;
        self.state = autosurgeon::hydrate(&self.doc)?;
        Ok(())
    }

    /// Fields whose concurrent values differ (equal concurrent values are not a conflict).
    pub fn conflicts(&self) -> Vec<FieldConflict> {
        use automerge::ReadDoc;
        let Ok(Some((_, fields))) = self.doc.get(ROOT, "fields") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for name in FIELD_NAMES {
            let Ok(all) = self.doc.get_all(&fields, name) else {
                continue;
            };
            let mut values: Vec<String> = all
                .iter()
                .filter(|(v, _)| !matches!(v, automerge::Value::Scalar(s) if s.is_null()))
                .map(|(v, _)| match v {
                    automerge::Value::Scalar(s) => match s.as_ref() {
                        automerge::ScalarValue::Str(s) => s.to_string(),
                        other => other.to_string(),
                    },
                    automerge::Value::Object(_) => "<object>".to_owned(),
                })
                .collect();
            values.sort();
            values.dedup();
            if values.len() > 1 {
                out.push(FieldConflict {
                    field: name,
                    values,
                });
            }
        }
        out
    }
}

/// Invariants of a patient document: its id is well formed and matches the root, its NIK (if present) is
/// valid. The NIK-to-id link needs the deployment secret and is checked where the secret is known.
pub fn check_invariants(state: &PatientState) -> Vec<&'static str> {
    let mut v = Vec::new();
    if state.kind != "patient" {
        v.push("wrong_kind");
    }
    if DocId::parse(&state.id).ok().and_then(|d| d.kind()) != Some(DocKind::Patient) {
        v.push("malformed_id");
    }
    if let Some(nik) = &state.fields.nik
        && Nik::parse(nik).is_err()
    {
        v.push("invalid_nik");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DeploymentSecret;

    fn fields(name: &str) -> PatientFields {
        PatientFields {
            name: Some(name.into()),
            address: Some("jl. mawar no. 5".into()),
            ..Default::default()
        }
    }

    #[test]
    fn normalises_and_fills_from_the_nik() {
        let nik = Nik::parse("3507224903820003").unwrap();
        let mut f = fields("  siti   aminah ");
        normalise_and_validate(&mut f, &nik, 2026).unwrap();
        assert_eq!(f.name.as_deref(), Some("SITI AMINAH"));
        assert_eq!(f.birth_date.as_deref(), Some("1982-03-09"));
        assert_eq!(f.sex.as_deref(), Some("PEREMPUAN"));
        assert_eq!(f.address.as_deref(), Some("JL. MAWAR NO. 5"));
    }

    #[test]
    fn refuses_data_that_contradicts_the_nik() {
        let nik = Nik::parse("3507224903820003").unwrap();
        let mut f = fields("SITI");
        f.birth_date = Some("1982-03-10".into());
        assert_eq!(
            normalise_and_validate(&mut f, &nik, 2026),
            Err(PatientError::BirthDateMismatch)
        );
        let mut f = fields("SITI");
        f.sex = Some("LAKI-LAKI".into());
        assert_eq!(
            normalise_and_validate(&mut f, &nik, 2026),
            Err(PatientError::SexMismatch)
        );
        let mut f = fields("SITI");
        f.religion = Some("JEDI".into());
        assert_eq!(
            normalise_and_validate(&mut f, &nik, 2026)
                .unwrap_err()
                .code(),
            "invalid_field"
        );
        let mut f = fields("");
        assert_eq!(
            normalise_and_validate(&mut f, &nik, 2026),
            Err(PatientError::Missing("name"))
        );
    }

    #[test]
    fn independent_registrations_merge_with_every_field_reachable() {
        let secret = DeploymentSecret::from_bytes([9; 32]);
        let nik = Nik::parse("3507224903820003").unwrap();
        let id = secret.patient_id(&nik);
        let mut fa = fields("SITI AMINAH");
        normalise_and_validate(&mut fa, &nik, 2026).unwrap();
        let mut fb = fa.clone();
        fb.phone = Some("081234567890".into());
        fb.name = Some("SITI AMINAH S".into());
        let reg = |c: &str| Registration {
            clinic: Some(c.into()),
            node: Some("n".into()),
            at: Some(1),
        };
        let (mut a, _) = Patient::create(&id, ActorId::random(), &fa, reg("a"), 10).unwrap();
        let (mut b, _) = Patient::create(&id, ActorId::random(), &fb, reg("b"), 11).unwrap();
        let mut bdoc = b.doc().clone();
        a.merge(&mut bdoc).unwrap();
        let mut adoc = a.doc().clone();
        b.merge(&mut adoc).unwrap();
        assert_eq!(
            crate::genesis::canonical_save(a.doc()).unwrap(),
            crate::genesis::canonical_save(b.doc()).unwrap()
        );
        assert_eq!(a.state().fields.phone.as_deref(), Some("081234567890"));
        assert_eq!(a.state().fields.address.as_deref(), Some("JL. MAWAR NO. 5"));
        let conflicts = a.conflicts();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert_eq!(conflicts[0].field, "name");
        assert!(check_invariants(a.state()).is_empty());
    }

    #[test]
    fn update_writes_only_what_changed() {
        let secret = DeploymentSecret::from_bytes([9; 32]);
        let nik = Nik::parse("3507224903820003").unwrap();
        let mut f = fields("SITI");
        normalise_and_validate(&mut f, &nik, 2026).unwrap();
        let (mut p, _) = Patient::create(
            &secret.patient_id(&nik),
            ActorId::random(),
            &f,
            Registration::default(),
            1,
        )
        .unwrap();
        let (changed, change) = p
            .update(
                &PatientFields {
                    phone: Some("0811111111".into()),
                    name: Some("SITI".into()),
                    ..Default::default()
                },
                2,
            )
            .unwrap();
        assert_eq!(changed, vec!["phone"]);
        assert!(change.is_some());
        let (changed, change) = p
            .update(
                &PatientFields {
                    phone: Some("0811111111".into()),
                    ..Default::default()
                },
                3,
            )
            .unwrap();
        assert!(changed.is_empty() && change.is_none());
    }
}
