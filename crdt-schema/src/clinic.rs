//! The clinic document: configuration of one clinic (services/poli with their ticket prefixes, counters,
//! opening hours, priority policy, display and printer settings), editable at the node or pushed from the
//! hub through the same sync. [`ClinicConfig`] is its JSON form for the API; entities are stored in maps
//! keyed by id so that concurrent edits merge per entity.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ActorId, Automerge, Change, ROOT};
use autosurgeon::{Hydrate, Reconcile, reconcile_prop};
use serde::{Deserialize, Serialize};

use crate::{
    DocError,
    genesis::{self, commit},
    ids::{ClinicId, DocKind},
    queue::{PriorityGroup, PriorityPolicy},
};

/// One service (poli) as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub id: String,
    pub name: String,
    /// Ticket prefix: one or two upper-case letters.
    pub prefix: String,
    #[serde(default)]
    pub room: Option<String>,
    /// Used for estimated waits until the day has enough completed tickets.
    #[serde(default = "default_minutes")]
    pub avg_service_minutes: u32,
    #[serde(default = "yes")]
    pub active: bool,
}

fn default_minutes() -> u32 {
    7
}

fn yes() -> bool {
    true
}

/// A counter (loket) or consultation desk, and the services it calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterConfig {
    pub id: String,
    pub name: String,
    pub services: Vec<String>,
}

/// Opening hours of one weekday (1 = Monday ... 7 = Sunday); days not listed are closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    pub day: u8,
    pub open: String,
    pub close: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityPolicyConfig {
    pub order: Vec<PriorityGroup>,
    pub max_consecutive: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayConfig {
    pub title: String,
    /// Announce calls by voice on the display board.
    pub announce: bool,
    /// `id` (Bahasa Indonesia) or `en`.
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    pub enabled: bool,
    pub header: String,
    pub footer: String,
}

/// A clinic's configuration, as the API reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClinicConfig {
    pub id: String,
    pub name: String,
    /// Offset of local time from UTC in minutes (WIB 420, WITA 480, WIT 540).
    pub utc_offset_minutes: i32,
    pub services: Vec<ServiceConfig>,
    pub counters: Vec<CounterConfig>,
    pub opening_hours: Vec<OpeningHours>,
    pub priority_policy: PriorityPolicyConfig,
    pub display: DisplayConfig,
    pub printer: PrinterConfig,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct ConfigError {
    pub field: String,
    pub why: &'static str,
}

fn err(field: impl Into<String>, why: &'static str) -> ConfigError {
    ConfigError {
        field: field.into(),
        why,
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn is_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl ClinicConfig {
    /// The configuration a new clinic starts with: services umum (A), gigi (B), kia (C), apotek (F) and two
    /// counters, open Monday to Saturday, WIB.
    pub fn default_for(id: &ClinicId) -> Self {
        let svc = |id: &str, name: &str, prefix: &str, room: &str, minutes: u32| ServiceConfig {
            id: id.into(),
            name: name.into(),
            prefix: prefix.into(),
            room: Some(room.into()),
            avg_service_minutes: minutes,
            active: true,
        };
        let all: Vec<String> = ["umum", "gigi", "kia", "apotek"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        Self {
            id: id.as_str().to_owned(),
            name: "Puskesmas".into(),
            utc_offset_minutes: 420,
            services: vec![
                svc("umum", "Poli Umum", "A", "Ruang 1", 8),
                svc("gigi", "Poli Gigi", "B", "Ruang 2", 15),
                svc("kia", "Poli KIA", "C", "Ruang 3", 10),
                svc("apotek", "Apotek", "F", "Apotek", 4),
            ],
            counters: vec![
                CounterConfig {
                    id: "loket-1".into(),
                    name: "Loket 1".into(),
                    services: all.clone(),
                },
                CounterConfig {
                    id: "loket-2".into(),
                    name: "Loket 2".into(),
                    services: all,
                },
            ],
            opening_hours: (1..=6)
                .map(|day| OpeningHours {
                    day,
                    open: "07:30".into(),
                    close: if day == 6 {
                        "12:00".into()
                    } else {
                        "14:00".into()
                    },
                })
                .collect(),
            priority_policy: PriorityPolicyConfig {
                order: PriorityPolicy::default().order,
                max_consecutive: PriorityPolicy::default().max_consecutive,
            },
            display: DisplayConfig {
                title: "Antrean".into(),
                announce: true,
                language: "id".into(),
            },
            printer: PrinterConfig {
                enabled: false,
                header: String::new(),
                footer: "Terima kasih".into(),
            },
        }
    }

    /// Checks the configuration as a whole.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ClinicId::parse(&self.id)
            .map_err(|_| err("id", "must be lower-case letters, digits, - or _"))?;
        if self.name.trim().is_empty() || self.name.len() > 120 {
            return Err(err("name", "must be 1 to 120 characters"));
        }
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(err("utc_offset_minutes", "must be between -720 and 840"));
        }
        if self.services.is_empty() {
            return Err(err("services", "at least one service is needed"));
        }
        let (mut ids, mut prefixes) = (BTreeSet::new(), BTreeSet::new());
        for (i, s) in self.services.iter().enumerate() {
            let f = |k: &str| format!("services[{i}].{k}");
            if !is_slug(&s.id) {
                return Err(err(f("id"), "must be lower-case letters, digits, - or _"));
            }
            if !ids.insert(s.id.as_str()) {
                return Err(err(f("id"), "is used twice"));
            }
            if !(1..=2).contains(&s.prefix.len())
                || !s.prefix.bytes().all(|b| b.is_ascii_uppercase())
            {
                return Err(err(f("prefix"), "must be one or two upper-case letters"));
            }
            if !prefixes.insert(s.prefix.as_str()) {
                return Err(err(f("prefix"), "is used by another service"));
            }
            if s.name.trim().is_empty() || s.name.len() > 80 {
                return Err(err(f("name"), "must be 1 to 80 characters"));
            }
            if !(1..=240).contains(&s.avg_service_minutes) {
                return Err(err(f("avg_service_minutes"), "must be 1 to 240"));
            }
        }
        let mut cids = BTreeSet::new();
        for (i, c) in self.counters.iter().enumerate() {
            if !is_slug(&c.id) || !cids.insert(c.id.as_str()) {
                return Err(err(
                    format!("counters[{i}].id"),
                    "must be a unique lower-case id",
                ));
            }
            if c.name.trim().is_empty() {
                return Err(err(format!("counters[{i}].name"), "must not be empty"));
            }
            if let Some(s) = c.services.iter().find(|s| !ids.contains(s.as_str())) {
                let _ = s;
                return Err(err(
                    format!("counters[{i}].services"),
                    "names a service that does not exist",
                ));
            }
        }
        let mut days = BTreeSet::new();
        for (i, h) in self.opening_hours.iter().enumerate() {
            if !(1..=7).contains(&h.day) || !days.insert(h.day) {
                return Err(err(
                    format!("opening_hours[{i}].day"),
                    "must be a unique day 1 (Monday) to 7",
                ));
            }
            match (is_hhmm(&h.open), is_hhmm(&h.close)) {
                (Some(o), Some(c)) if o < c => {}
                _ => {
                    return Err(err(
                        format!("opening_hours[{i}]"),
                        "open and close must be HH:MM with open before close",
                    ));
                }
            }
        }
        let unique: BTreeSet<_> = self
            .priority_policy
            .order
            .iter()
            .map(|p| p.as_str())
            .collect();
        if unique.len() != self.priority_policy.order.len() {
            return Err(err("priority_policy.order", "lists a group twice"));
        }
        if !matches!(self.display.language.as_str(), "id" | "en") {
            return Err(err("display.language", "must be id or en"));
        }
        Ok(())
    }

    pub fn service(&self, id: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.id == id)
    }

    pub fn counter(&self, id: &str) -> Option<&CounterConfig> {
        self.counters.iter().find(|c| c.id == id)
    }

    pub fn policy(&self) -> PriorityPolicy {
        PriorityPolicy {
            order: self.priority_policy.order.clone(),
            max_consecutive: self.priority_policy.max_consecutive,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
struct ServiceDoc {
    name: String,
    prefix: String,
    #[autosurgeon(missing = "Default::default")]
    room: Option<String>,
    avg_service_minutes: u64,
    active: bool,
    order: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
struct CounterDoc {
    name: String,
    /// Comma-separated service ids (a scalar, so concurrent edits resolve as one value).
    services: String,
    order: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
struct HoursDoc {
    open: String,
    close: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hydrate, Reconcile)]
struct PolicyDoc {
    #[autosurgeon(missing = "Default::default")]
    order: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    max_consecutive: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hydrate, Reconcile)]
struct DisplayDoc {
    #[autosurgeon(missing = "Default::default")]
    title: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    announce: Option<bool>,
    #[autosurgeon(missing = "Default::default")]
    language: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    printer_enabled: Option<bool>,
    #[autosurgeon(missing = "Default::default")]
    printer_header: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    printer_footer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
struct ClinicState {
    id: String,
    #[autosurgeon(missing = "Default::default")]
    name: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    utc_offset_minutes: Option<i64>,
    services: BTreeMap<String, ServiceDoc>,
    counters: BTreeMap<String, CounterDoc>,
    opening_hours: BTreeMap<String, HoursDoc>,
    priority_policy: PolicyDoc,
    display: DisplayDoc,
}

/// A clinic document with its configuration.
#[derive(Debug)]
pub struct Clinic {
    doc: Automerge,
    config: ClinicConfig,
}

impl Clinic {
    /// A new clinic document from genesis, holding `config` (which must be valid).
    pub fn create(
        config: &ClinicConfig,
        actor: ActorId,
        now_ms: i64,
    ) -> Result<(Self, Option<Change>), DocError> {
        let id = ClinicId::parse(&config.id).map_err(|_| DocError::WrongKind {
            expected: "clinic",
            found: Some(config.id.clone()),
        })?;
        let doc = genesis::genesis(&id.doc_id(), actor)?;
        let mut clinic = Self {
            doc,
            config: ClinicConfig::default_for(&id),
        };
        let change = clinic.update(config, now_ms)?;
        Ok((clinic, change))
    }

    pub fn from_doc(doc: Automerge) -> Result<Self, DocError> {
        genesis::expect_kind(&doc, DocKind::Clinic)?;
        let state: ClinicState = autosurgeon::hydrate(&doc)?;
        let config = from_state(&state);
        Ok(Self { doc, config })
    }

    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    pub fn config(&self) -> &ClinicConfig {
        &self.config
    }

    /// Replaces the configuration (only differences become operations).
    pub fn update(
        &mut self,
        config: &ClinicConfig,
        now_ms: i64,
    ) -> Result<Option<Change>, DocError> {
        let state = to_state(config);
        let (_, change) = commit(
            &mut self.doc,
            now_ms,
            "configure",
            |tx| -> Result<(), DocError> {
                reconcile_prop(tx, ROOT, "name", &state.name)?;
                reconcile_prop(tx, ROOT, "utc_offset_minutes", state.utc_offset_minutes)?;
                reconcile_prop(tx, ROOT, "services", &state.services)?;
                reconcile_prop(tx, ROOT, "counters", &state.counters)?;
                reconcile_prop(tx, ROOT, "opening_hours", &state.opening_hours)?;
                reconcile_prop(tx, ROOT, "priority_policy", &state.priority_policy)?;
                reconcile_prop(tx, ROOT, "display", &state.display)?;
                Ok(())
            },
        )?;
        let state: ClinicState = autosurgeon::hydrate(&self.doc)?;
        self.config = from_state(&state);
        Ok(change)
    }

    pub fn merge(&mut self, other: &mut Automerge) -> Result<(), DocError> {
        self.doc.merge(other)?;
        let state: ClinicState = autosurgeon::hydrate(&self.doc)?;
        self.config = from_state(&state);
        Ok(())
    }
}

fn to_state(c: &ClinicConfig) -> ClinicState {
    ClinicState {
        id: ClinicId::parse(&c.id)
            .map(|id| id.doc_id().to_string())
            .unwrap_or_default(),
        name: Some(c.name.clone()),
        utc_offset_minutes: Some(i64::from(c.utc_offset_minutes)),
        services: c
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    s.id.clone(),
                    ServiceDoc {
                        name: s.name.clone(),
                        prefix: s.prefix.clone(),
                        room: s.room.clone(),
                        avg_service_minutes: u64::from(s.avg_service_minutes),
                        active: s.active,
                        order: i as u64,
                    },
                )
            })
            .collect(),
        counters: c
            .counters
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    k.id.clone(),
                    CounterDoc {
                        name: k.name.clone(),
                        services: k.services.join(","),
                        order: i as u64,
                    },
                )
            })
            .collect(),
        opening_hours: c
            .opening_hours
            .iter()
            .map(|h| {
                (
                    h.day.to_string(),
                    HoursDoc {
                        open: h.open.clone(),
                        close: h.close.clone(),
                    },
                )
            })
            .collect(),
        priority_policy: PolicyDoc {
            order: Some(
                c.priority_policy
                    .order
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            max_consecutive: Some(u64::from(c.priority_policy.max_consecutive)),
        },
        display: DisplayDoc {
            title: Some(c.display.title.clone()),
            announce: Some(c.display.announce),
            language: Some(c.display.language.clone()),
            printer_enabled: Some(c.printer.enabled),
            printer_header: Some(c.printer.header.clone()),
            printer_footer: Some(c.printer.footer.clone()),
        },
    }
}

fn from_state(s: &ClinicState) -> ClinicConfig {
    let id = s.id.strip_prefix("clinic/").unwrap_or(&s.id).to_owned();
    let defaults = ClinicConfig::default_for(
        &ClinicId::parse(&id).unwrap_or_else(|_| ClinicId::parse("clinic").expect("valid")),
    );
    let mut services: Vec<(u64, ServiceConfig)> = s
        .services
        .iter()
        .map(|(id, d)| {
            (
                d.order,
                ServiceConfig {
                    id: id.clone(),
                    name: d.name.clone(),
                    prefix: d.prefix.clone(),
                    room: d.room.clone(),
                    avg_service_minutes: u32::try_from(d.avg_service_minutes).unwrap_or(u32::MAX),
                    active: d.active,
                },
            )
        })
        .collect();
    services.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
    let mut counters: Vec<(u64, CounterConfig)> = s
        .counters
        .iter()
        .map(|(id, d)| {
            let services = d
                .services
                .split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect();
            (
                d.order,
                CounterConfig {
                    id: id.clone(),
                    name: d.name.clone(),
                    services,
                },
            )
        })
        .collect();
    counters.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
    let mut hours: Vec<OpeningHours> = s
        .opening_hours
        .iter()
        .filter_map(|(d, h)| {
            Some(OpeningHours {
                day: d.parse().ok()?,
                open: h.open.clone(),
                close: h.close.clone(),
            })
        })
        .collect();
    hours.sort_by_key(|h| h.day);
    ClinicConfig {
        id,
        name: s.name.clone().unwrap_or(defaults.name),
        utc_offset_minutes: s
            .utc_offset_minutes
            .and_then(|m| i32::try_from(m).ok())
            .unwrap_or(defaults.utc_offset_minutes),
        services: services.into_iter().map(|s| s.1).collect(),
        counters: counters.into_iter().map(|c| c.1).collect(),
        opening_hours: hours,
        priority_policy: PriorityPolicyConfig {
            order: s
                .priority_policy
                .order
                .as_deref()
                .map(|o| o.split(',').filter_map(PriorityGroup::parse).collect())
                .unwrap_or(defaults.priority_policy.order),
            max_consecutive: s
                .priority_policy
                .max_consecutive
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(defaults.priority_policy.max_consecutive),
        },
        display: DisplayConfig {
            title: s.display.title.clone().unwrap_or(defaults.display.title),
            announce: s.display.announce.unwrap_or(defaults.display.announce),
            language: s
                .display
                .language
                .clone()
                .unwrap_or(defaults.display.language),
        },
        printer: PrinterConfig {
            enabled: s
                .display
                .printer_enabled
                .unwrap_or(defaults.printer.enabled),
            header: s
                .display
                .printer_header
                .clone()
                .unwrap_or(defaults.printer.header),
            footer: s
                .display
                .printer_footer
                .clone()
                .unwrap_or(defaults.printer.footer),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_round_trips_through_the_document() {
        let id = ClinicId::parse("pkm-contoh").unwrap();
        let cfg = ClinicConfig::default_for(&id);
        cfg.validate().unwrap();
        assert_eq!(
            cfg.services
                .iter()
                .map(|s| s.prefix.as_str())
                .collect::<Vec<_>>(),
            ["A", "B", "C", "F"]
        );
        let (clinic, change) = Clinic::create(&cfg, ActorId::random(), 5).unwrap();
        assert!(change.is_some());
        assert_eq!(clinic.config(), &cfg);
        let reloaded = Clinic::from_doc(Automerge::load(&clinic.doc().save()).unwrap()).unwrap();
        assert_eq!(reloaded.config(), &cfg);
    }

    #[test]
    fn validation_names_the_field() {
        let id = ClinicId::parse("pkm").unwrap();
        let mut cfg = ClinicConfig::default_for(&id);
        cfg.services[1].prefix = "A".into();
        assert_eq!(cfg.validate().unwrap_err().field, "services[1].prefix");
        let mut cfg = ClinicConfig::default_for(&id);
        cfg.counters[0].services.push("bedah".into());
        assert_eq!(cfg.validate().unwrap_err().field, "counters[0].services");
        let mut cfg = ClinicConfig::default_for(&id);
        cfg.opening_hours[0].close = "06:00".into();
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn concurrent_edits_of_different_services_both_survive() {
        let id = ClinicId::parse("pkm").unwrap();
        let cfg = ClinicConfig::default_for(&id);
        let (mut a, _) = Clinic::create(&cfg, ActorId::random(), 1).unwrap();
        // The second replica got the document by sync, then both edit offline.
        let mut b = Clinic::from_doc(a.doc().fork()).unwrap();
        let mut ca = cfg.clone();
        ca.services[0].room = Some("Ruang 9".into());
        a.update(&ca, 2).unwrap();
        let mut cb = cfg.clone();
        cb.services[1].avg_service_minutes = 20;
        b.update(&cb, 3).unwrap();
        let mut bd = b.doc().clone();
        a.merge(&mut bd).unwrap();
        assert_eq!(a.config().services[0].room.as_deref(), Some("Ruang 9"));
        assert_eq!(a.config().services[1].avg_service_minutes, 20);
    }
}
