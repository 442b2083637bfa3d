//! Synthetic, internally consistent identities: what one e-KTP says, generated from a seeded RNG.
//!
//! Every identity is invented: names are drawn from word lists written for this project, the NIK
//! encodes a real district code (from the region table), the birth date and the sex; the header lines
//! and the Kecamatan name that district. Nothing here comes from a real person.

use crdt_schema::region::{self, Region};
use rand::Rng;
use rand::seq::IndexedRandom;

use super::SynthError;
use super::vocab;

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Full year, e.g. 1982.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
}

impl Date {
    /// As printed on the card: `DD-MM-YYYY`.
    pub fn dmy(&self) -> String {
        format!("{:02}-{:02}-{:04}", self.day, self.month, self.year)
    }

    /// ISO 8601: `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Days in a month of the Gregorian calendar.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Sex as recorded on the card (and in the NIK's day field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// LAKI-LAKI.
    Male,
    /// PEREMPUAN; the NIK's day field is the birth day plus 40.
    Female,
}

impl Sex {
    /// As printed on the card.
    pub fn printed(self) -> &'static str {
        match self {
            Sex::Male => "LAKI-LAKI",
            Sex::Female => "PEREMPUAN",
        }
    }
}

/// Everything printed on the front of one synthetic e-KTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Region code of the district (6 digits), the NIK's first six digits.
    pub district_code: String,
    /// 16 digits.
    pub nik: String,
    /// Upper case, 1-4 words.
    pub name: String,
    /// Regency or city name without "Kabupaten"/"Kota", upper case.
    pub birth_place: String,
    /// Birth date.
    pub birth_date: Date,
    /// Sex.
    pub sex: Sex,
    /// A, B, AB, O or "-".
    pub blood_type: &'static str,
    /// Street address as one string; the card may wrap it over two lines.
    pub address: String,
    /// `RRR/WWW`, e.g. `018/010`.
    pub rt_rw: String,
    /// Kelurahan or desa (synthetic name), upper case.
    pub village: String,
    /// Kecamatan, the district of the NIK's code, upper case.
    pub district: String,
    /// As printed on the second header line, e.g. "KABUPATEN MALANG".
    pub regency: String,
    /// As printed after "PROVINSI ", e.g. "JAWA TIMUR".
    pub province: String,
    /// ISLAM, KRISTEN, KATOLIK, HINDU, BUDDHA or KHONGHUCU.
    pub religion: &'static str,
    /// BELUM KAWIN, KAWIN, CERAI HIDUP or CERAI MATI.
    pub marital_status: &'static str,
    /// One of [`vocab::OCCUPATIONS`].
    pub occupation: &'static str,
    /// WNI.
    pub nationality: &'static str,
    /// `None` for SEUMUR HIDUP (cards issued from 2016, and most older ones since), else the date.
    pub valid_until: Option<Date>,
    /// Place printed under the photo: the regency or city name, upper case.
    pub issue_place: String,
    /// Date printed under the photo.
    pub issue_date: Date,
}

impl Identity {
    /// The value printed after "Tempat/Tgl Lahir", e.g. "MALANG, 09-03-1982".
    pub fn birth_line(&self) -> String {
        format!("{}, {}", self.birth_place, self.birth_date.dmy())
    }

    /// The value printed after "Berlaku Hingga".
    pub fn valid_until_printed(&self) -> String {
        self.valid_until
            .map_or_else(|| "SEUMUR HIDUP".to_owned(), |d| d.dmy())
    }
}

/// Regency or city name without its kind word (and without "Administrasi"), upper case:
/// "Kabupaten Malang" -> "MALANG", "Kota Administrasi Jakarta Barat" -> "JAKARTA BARAT".
pub fn regency_base_upper(name: &str) -> String {
    let base = region::split_regency_name(name).map_or(name, |(_, rest)| rest);
    let base = base.strip_prefix("Administrasi ").unwrap_or(base);
    base.to_uppercase()
}

fn pick<'a, R: Rng + ?Sized>(rng: &mut R, list: &'a [&'static str]) -> &'a str {
    list.choose(rng).copied().unwrap_or("")
}

fn weighted<R: Rng + ?Sized>(rng: &mut R, items: &[(&'static str, u32)]) -> &'static str {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total.max(1));
    for (item, w) in items {
        if x < *w {
            return item;
        }
        x -= w;
    }
    items.last().map_or("", |(i, _)| i)
}

fn random_date<R: Rng + ?Sized>(rng: &mut R, from_year: u16, to_year: u16) -> Date {
    let year = rng.random_range(from_year..=to_year);
    let month = rng.random_range(1..=12);
    let day = rng.random_range(1..=days_in_month(year, month));
    Date { year, month, day }
}

/// The village printed on the card: one of the district's villages in the region table, picked by
/// a hash of the NIK (so the random stream, and with it every other value of the card, is what it
/// was before villages were drawn from the table); one card in ten keeps the made-up name, as a
/// village renamed or created after the table, which the reader must read as printed.
fn registered_village(nik: &str, district_code: &str, made_up: String) -> String {
    let h = nik.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let villages: Vec<&str> = region::villages_of(district_code).collect();
    if villages.is_empty() || (h >> 40) % 10 == 0 {
        return made_up;
    }
    villages[(h % villages.len() as u64) as usize].to_uppercase()
}

/// Generates one identity, its name from the common-name lists.
pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Result<Identity, SynthError> {
    generate_with(rng, vocab::Names::Lists)
}

/// Generates one identity, its name from `names` ([`vocab::person_name_from`]); everything
/// else is drawn as by [`generate`].
pub fn generate_with<R: Rng + ?Sized>(
    rng: &mut R,
    names: vocab::Names,
) -> Result<Identity, SynthError> {
    let districts = region::districts();
    let d: &Region = districts.choose(rng).ok_or(SynthError::RegionTable)?;
    let province = region::province_name(&d.code[..2]).ok_or(SynthError::RegionTable)?;
    let regency = region::regency_name(&d.code[..4]).ok_or(SynthError::RegionTable)?;

    let sex = if rng.random_bool(0.5) {
        Sex::Male
    } else {
        Sex::Female
    };
    // e-KTPs have been issued since 2011; holders are 17 or older when the card is made.
    let issue_date = random_date(rng, 2011, 2025);
    let birth_date = random_date(rng, 1940, issue_date.year - 17);
    let nik_day = birth_date.day + if sex == Sex::Female { 40 } else { 0 };
    let serial: u16 = if rng.random_bool(0.8) {
        rng.random_range(1..=999)
    } else {
        rng.random_range(1..=9999)
    };
    let nik = format!(
        "{}{:02}{:02}{:02}{:04}",
        d.code,
        nik_day,
        birth_date.month,
        birth_date.year % 100,
        serial
    );

    // Most people are born in their province; some elsewhere.
    let birth_regency = if rng.random_bool(0.75) {
        region::regencies_of(&d.code[..2]).choose(rng)
    } else {
        region::regencies().choose(rng)
    }
    .ok_or(SynthError::RegionTable)?;

    let age = issue_date.year - birth_date.year;
    let marital_status = if age < 22 {
        weighted(rng, &[("BELUM KAWIN", 85), ("KAWIN", 15)])
    } else if age < 30 {
        weighted(
            rng,
            &[("BELUM KAWIN", 45), ("KAWIN", 50), ("CERAI HIDUP", 5)],
        )
    } else {
        weighted(
            rng,
            &[
                ("BELUM KAWIN", 8),
                ("KAWIN", 70),
                ("CERAI HIDUP", 10),
                ("CERAI MATI", 12),
            ],
        )
    };
    let occupation = if age < 23 && rng.random_bool(0.5) {
        "PELAJAR/MAHASISWA"
    } else if sex == Sex::Female && rng.random_bool(0.25) {
        "MENGURUS RUMAH TANGGA"
    } else {
        pick(rng, vocab::OCCUPATIONS)
    };
    // Cards issued before 2016 carried an expiry five years on, on the holder's birthday; most were
    // since reissued or are treated as lifetime, so only some synthetic cards show a date.
    let valid_until = if issue_date.year < 2016 && rng.random_bool(0.35) {
        let year = issue_date.year + 5;
        let day = birth_date.day.min(days_in_month(year, birth_date.month));
        Some(Date {
            year,
            month: birth_date.month,
            day,
        })
    } else {
        None
    };

    let village_key = nik.clone();
    Ok(Identity {
        district_code: d.code.to_owned(),
        nik,
        name: vocab::person_name_from(rng, sex == Sex::Female, names),
        birth_place: regency_base_upper(birth_regency.name),
        birth_date,
        sex,
        blood_type: weighted(
            rng,
            &[("-", 45), ("O", 20), ("A", 14), ("B", 14), ("AB", 7)],
        ),
        address: vocab::address(rng),
        rt_rw: format!(
            "{:03}/{:03}",
            rng.random_range(1..=30u16),
            rng.random_range(1..=15u16)
        ),
        village: registered_village(&village_key, d.code, vocab::village(rng)),
        district: d.name.to_uppercase(),
        regency: regency.to_uppercase(),
        province: province.to_uppercase(),
        // Balanced well above census shares so the recogniser sees every value often.
        religion: weighted(
            rng,
            &[
                ("ISLAM", 55),
                ("KRISTEN", 14),
                ("KATOLIK", 11),
                ("HINDU", 8),
                ("BUDDHA", 7),
                ("KHONGHUCU", 5),
            ],
        ),
        marital_status,
        occupation,
        nationality: "WNI",
        valid_until,
        issue_place: regency_base_upper(regency),
        issue_date,
    })
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn nik_encodes_region_birth_date_and_sex() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..1000 {
            let id = generate(&mut rng).expect("identity");
            assert_eq!(id.nik.len(), 16);
            assert!(id.nik.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(&id.nik[..6], id.district_code);
            let code = &id.nik[..6];
            assert_eq!(
                region::district_name(code).map(str::to_uppercase),
                Some(id.district.clone())
            );
            assert_eq!(
                region::regency_name(&code[..4]).map(str::to_uppercase),
                Some(id.regency.clone())
            );
            assert_eq!(
                region::province_name(&code[..2]).map(str::to_uppercase),
                Some(id.province.clone())
            );
            let day: u8 = id.nik[6..8].parse().expect("day");
            let month: u8 = id.nik[8..10].parse().expect("month");
            let yy: u16 = id.nik[10..12].parse().expect("year");
            let serial: u16 = id.nik[12..].parse().expect("serial");
            match id.sex {
                Sex::Male => assert_eq!(day, id.birth_date.day),
                Sex::Female => assert_eq!(day, id.birth_date.day + 40),
            }
            assert_eq!(month, id.birth_date.month);
            assert_eq!(yy, id.birth_date.year % 100);
            assert!((1..=9999).contains(&serial));
            assert!(id.birth_date.day <= days_in_month(id.birth_date.year, id.birth_date.month));
            assert!(id.issue_date.year - id.birth_date.year >= 17);
        }
    }

    #[test]
    fn villages_are_the_districts_own_but_for_one_card_in_ten() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut registered = 0;
        for _ in 0..1000 {
            let id = generate(&mut rng).expect("identity");
            let own =
                region::villages_of(&id.district_code).any(|v| v.to_uppercase() == id.village);
            registered += usize::from(own);
        }
        assert!((850..=950).contains(&registered), "{registered} of 1000");
    }

    #[test]
    fn every_field_is_filled() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..500 {
            let id = generate(&mut rng).expect("identity");
            for s in [
                &id.name,
                &id.birth_place,
                &id.address,
                &id.rt_rw,
                &id.village,
                &id.district,
                &id.regency,
                &id.province,
                &id.issue_place,
            ] {
                assert!(!s.trim().is_empty(), "{id:?}");
                assert_eq!(s.trim(), s.as_str(), "{id:?}");
                assert!(!s.contains("  "), "{id:?}");
            }
            for s in [
                id.blood_type,
                id.religion,
                id.marital_status,
                id.occupation,
                id.nationality,
            ] {
                assert!(!s.is_empty());
            }
            assert!(id.regency.starts_with("KABUPATEN ") || id.regency.starts_with("KOTA "));
            let words = id.name.split(' ').count();
            assert!((1..=4).contains(&words), "{}", id.name);
        }
    }

    #[test]
    fn same_seed_same_identity() {
        let a = generate(&mut ChaCha8Rng::seed_from_u64(3)).expect("a");
        let b = generate(&mut ChaCha8Rng::seed_from_u64(3)).expect("b");
        assert_eq!(a, b);
    }
}
