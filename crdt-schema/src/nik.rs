//! NIK (Nomor Induk Kependudukan) rules: 16 digits = 6-digit region code (province, regency, district of
//! first registration), birth date `DDMMYY` with 40 added to the day for women, and a 4-digit serial that is
//! never `0000`. The province must be a known Kemendagri code; an unknown regency or district only earns a
//! warning, since old NIKs carry codes of regions that were later split or renamed.

use std::fmt;

use crate::region;

/// A NIK that passed validation. Its `Debug` form hides the digits so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nik(String);

impl fmt::Debug for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nik(****************)")
    }
}

/// Why a string is not a valid NIK. Messages never repeat the NIK itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NikError {
    #[error("NIK harus 16 digit (NIK must be 16 digits, got {0})")]
    Length(usize),
    #[error("NIK hanya boleh berisi angka (NIK must contain digits only)")]
    NotDigits,
    #[error("kode provinsi {0} pada NIK tidak dikenal (unknown province code {0})")]
    UnknownProvince(String),
    #[error(
        "tanggal lahir pada NIK tidak mungkin (the birth date encoded in the NIK is impossible)"
    )]
    BirthDate,
    #[error("nomor urut NIK tidak boleh 0000 (the NIK serial cannot be 0000)")]
    ZeroSerial,
}

impl NikError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            NikError::Length(_) => "nik_length",
            NikError::NotDigits => "nik_not_digits",
            NikError::UnknownProvince(_) => "nik_unknown_province",
            NikError::BirthDate => "nik_birth_date",
            NikError::ZeroSerial => "nik_zero_serial",
        }
    }
}

/// Sex as printed on the KTP, derived from the NIK's day digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// The value printed on the card.
    pub fn as_ktp(self) -> &'static str {
        match self {
            Sex::Male => "LAKI-LAKI",
            Sex::Female => "PEREMPUAN",
        }
    }

    pub fn from_ktp(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "LAKI-LAKI" | "LAKI LAKI" | "L" => Some(Sex::Male),
            "PEREMPUAN" | "P" => Some(Sex::Female),
            _ => None,
        }
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl Nik {
    /// Validates a NIK. Spaces and dots are not accepted: callers trim what a human typed.
    pub fn parse(s: &str) -> Result<Self, NikError> {
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NikError::NotDigits);
        }
        if s.len() != 16 {
            return Err(NikError::Length(s.len()));
        }
        let nik = Nik(s.to_owned());
        if region::province_name(nik.province_code()).is_none() {
            return Err(NikError::UnknownProvince(nik.province_code().to_owned()));
        }
        let (day, month, yy) = nik.raw_date();
        let day = if day > 40 { day - 40 } else { day };
        // The year's century is not known without a clock: the date must exist in one of the two.
        let valid = (1..=12).contains(&month)
            && day >= 1
            && (day <= days_in_month(1900 + i32::from(yy), month)
                || day <= days_in_month(2000 + i32::from(yy), month));
        if !valid {
            return Err(NikError::BirthDate);
        }
        if &s[12..] == "0000" {
            return Err(NikError::ZeroSerial);
        }
        Ok(nik)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn province_code(&self) -> &str {
        &self.0[..2]
    }

    pub fn regency_code(&self) -> &str {
        &self.0[..4]
    }

    pub fn district_code(&self) -> &str {
        &self.0[..6]
    }

    fn raw_date(&self) -> (u8, u8, u8) {
        let n = |i: usize| (self.0.as_bytes()[i] - b'0') * 10 + (self.0.as_bytes()[i + 1] - b'0');
        (n(6), n(8), n(10))
    }

    pub fn sex(&self) -> Sex {
        if self.raw_date().0 > 40 {
            Sex::Female
        } else {
            Sex::Male
        }
    }

    /// The birth date, resolving the two-digit year so the person is not born after `current_year`.
    pub fn birth_date(&self, current_year: i32) -> Option<time::Date> {
        let (day, month, yy) = self.raw_date();
        let day = if day > 40 { day - 40 } else { day };
        let mut year = 2000 + i32::from(yy);
        if year > current_year {
            year -= 100;
        }
        let month = time::Month::try_from(month).ok()?;
        time::Date::from_calendar_date(year, month, day).ok()
    }

    /// Warnings that do not make the NIK invalid: a regency or district code unknown to the current table.
    pub fn warnings(&self) -> Vec<&'static str> {
        let mut w = Vec::new();
        if region::regency_name(self.regency_code()).is_none() {
            w.push("nik_unknown_regency");
        } else if region::district_name(self.district_code()).is_none() {
            w.push("nik_unknown_district");
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_well_formed_nik_and_reads_it() {
        let nik = Nik::parse("3507224903820003").unwrap();
        assert_eq!(nik.sex(), Sex::Female);
        assert_eq!(
            nik.birth_date(2026),
            Some(time::macros::date!(1982 - 03 - 09))
        );
        let man = Nik::parse("3507220903150001").unwrap();
        assert_eq!(man.sex(), Sex::Male);
        assert_eq!(
            man.birth_date(2026),
            Some(time::macros::date!(2015 - 03 - 09))
        );
        assert_eq!(nik.province_code(), "35");
    }

    #[test]
    fn rejects_with_the_right_reason() {
        let cases = [
            ("350722490382000", NikError::Length(15)),
            ("35072249038200031", NikError::Length(17)),
            ("3507 22490382003", NikError::NotDigits),
            ("9907224903820003", NikError::UnknownProvince("99".into())),
            ("3507223203820003", NikError::BirthDate), // day 32
            ("3507227203820003", NikError::BirthDate), // day 72 = 32 for women
            ("3507220913820003", NikError::BirthDate), // month 13
            ("3507223002820003", NikError::BirthDate), // 30 February
            ("3507220000820003", NikError::BirthDate), // day 0
            ("3507220903820000", NikError::ZeroSerial),
        ];
        for (s, want) in cases {
            assert_eq!(Nik::parse(s).unwrap_err(), want, "{s}");
        }
    }

    #[test]
    fn leap_days_need_a_leap_year() {
        assert!(Nik::parse("3507222902000001").is_ok()); // 2000-02-29
        assert!(Nik::parse("3507222902010001").is_err()); // 2001 and 1901 are not leap years
    }

    #[test]
    fn debug_never_shows_digits() {
        let nik = Nik::parse("3507224903820003").unwrap();
        assert!(!format!("{nik:?}").contains("3507"));
        assert!(
            !NikError::UnknownProvince("99".into())
                .to_string()
                .contains("3507")
        );
    }

    #[test]
    fn unknown_district_is_a_warning_not_an_error() {
        let nik = Nik::parse("3507999903820003");
        // Day 99 is invalid, so use a valid date with an unknown district code.
        assert!(nik.is_err());
        let nik = Nik::parse("3507990903820003").unwrap();
        assert_eq!(nik.warnings(), vec!["nik_unknown_district"]);
        assert!(
            Nik::parse("3507220903820003")
                .unwrap()
                .warnings()
                .is_empty()
        );
    }
}
