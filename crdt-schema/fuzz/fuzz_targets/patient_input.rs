//! Fuzz target: arbitrary bytes as the JSON body of a registration (or a clinic configuration), through
//! the same parsing, NIK rules and validation the node applies. Must never panic.
#![no_main]

use crdt_schema::{clinic::ClinicConfig, nik::Nik, patient::{self, PatientFields}};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut fields) = serde_json::from_slice::<PatientFields>(data)
        && let Some(nik) = fields.nik.clone()
        && let Ok(nik) = Nik::parse(nik.trim())
    {
        let _ = nik.warnings();
        let _ = nik.birth_date(2026);
        let _ = patient::normalise_and_validate(&mut fields, &nik, 2026);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Nik::parse(text);
    }
    if let Ok(config) = serde_json::from_slice::<ClinicConfig>(data) {
        let _ = config.validate();
    }
});
