//! Word lists written for this project and the small grammars that combine them into synthetic
//! Indonesian-style names, street addresses and village names. Common words only: the combinations
//! are random and name no one.

use rand::Rng;
use rand::seq::IndexedRandom;

/// Common occupations as the population register prints them.
pub use crate::fields::OCCUPATIONS;

const MALE_GIVEN: &[&str] = &[
    "AHMAD",
    "MUHAMMAD",
    "MUH.",
    "MOCH.",
    "M.",
    "ABDUL",
    "AGUS",
    "BUDI",
    "BAMBANG",
    "DEDI",
    "DWI",
    "EKO",
    "FAJAR",
    "HADI",
    "HENDRA",
    "IMAM",
    "IRWAN",
    "JOKO",
    "KURNIA",
    "RUDI",
    "SLAMET",
    "SUPRIADI",
    "TEGUH",
    "WAHYU",
    "YUDI",
    "ARIF",
    "RIZKY",
    "ADITYA",
    "ANDI",
    "BAYU",
    "DANI",
    "ILHAM",
    "REZA",
    "SYAHRUL",
    "YOHANES",
    "PETRUS",
    "I GEDE",
    "I MADE",
    "I KETUT",
    "I NYOMAN",
    "KOMANG",
    "WAYAN",
    "HERMAN",
    "SUTRISNO",
    "SUPARMAN",
    "SUKIMAN",
    "DARMAWAN",
    "GUNAWAN",
    "MA'RUF",
    "SYAFI'I",
    "MU'MIN",
    "H.",
    "A.",
    "ROBERTUS",
    "FRANSISKUS",
    "LUKMAN",
    "NUR",
    "SAIFUL",
    "TAUFIK",
    "ZAINAL",
];

const FEMALE_GIVEN: &[&str] = &[
    "SITI",
    "SRI",
    "DEWI",
    "NUR",
    "NURUL",
    "ENDANG",
    "ANI",
    "RINA",
    "YULI",
    "WATI",
    "LESTARI",
    "PUTRI",
    "AYU",
    "DIAN",
    "INDAH",
    "FITRI",
    "RATNA",
    "TITIN",
    "WULAN",
    "NI MADE",
    "NI KETUT",
    "NI LUH",
    "KADEK",
    "MARIA",
    "THERESIA",
    "ELISABETH",
    "YUNITA",
    "SUSANTI",
    "SUMIATI",
    "SUKARNI",
    "PONIYEM",
    "NUR'AINI",
    "SA'ADAH",
    "HJ.",
    "A.",
    "RAHMAWATI",
    "KARTIKA",
    "MEGA",
    "LINDA",
    "NOVI",
    "EVI",
    "UMI",
    "ASIH",
    "RIRIN",
    "TRI",
    "EKA",
    "FATIMAH",
    "AISYAH",
    "ZAHRA",
    "ANNISA",
    "KHOIRUL",
];

const MALE_FAMILY: &[&str] = &[
    "SANTOSO",
    "WIJAYA",
    "SAPUTRA",
    "HIDAYAT",
    "KURNIAWAN",
    "SETIAWAN",
    "PRATAMA",
    "NUGROHO",
    "RAHMAN",
    "HASIBUAN",
    "SIREGAR",
    "NASUTION",
    "SIMANJUNTAK",
    "LUBIS",
    "HARAHAP",
    "SIHOMBING",
    "PANJAITAN",
    "TAMBUNAN",
    "GINTING",
    "TARIGAN",
    "SEMBIRING",
    "PURBA",
    "MANURUNG",
    "SINAGA",
    "WIBOWO",
    "SUSILO",
    "PRASETYO",
    "HARTONO",
    "SUBAGYO",
    "ARIFIN",
    "FIRMANSYAH",
    "RAMADHAN",
    "HAKIM",
    "SYAHPUTRA",
    "MANGKU",
    "PASARIBU",
    "TANJUNG",
    "DAENG",
    "LATUHARHARY",
    "WENDA",
    "KOGOYA",
    "RUMBIAK",
    "MANDACAN",
    "LAIA",
    "ZEBUA",
    "HALAWA",
    "MUSTOFA",
    "ASY'ARI",
    "FAUZI",
    "EFENDI",
    "SUBEKTI",
    "MULYONO",
    "SUGIARTO",
    "SETIADI",
    "IRAWAN",
];

const FEMALE_FAMILY: &[&str] = &[
    "LESTARI",
    "WULANDARI",
    "RAHAYU",
    "SAPUTRI",
    "PRATIWI",
    "PERMATASARI",
    "ANGGRAINI",
    "HANDAYANI",
    "SUSANTI",
    "KURNIASIH",
    "FITRIANI",
    "MAHARANI",
    "PURNAMASARI",
    "NINGSIH",
    "WAHYUNI",
    "HASIBUAN",
    "SIREGAR",
    "NASUTION",
    "SIMANJUNTAK",
    "LUBIS",
    "SIHOMBING",
    "GINTING",
    "TARIGAN",
    "SEMBIRING",
    "SINAGA",
    "AMELIA",
    "KHASANAH",
    "MARYAM",
    "NURHAYATI",
    "SULASTRI",
    "SUPRIYATI",
    "SETIAWATI",
    "YULIANTI",
    "ROSIDAH",
    "MUKAROMAH",
    "ZULAIKHA",
    "NOVITASARI",
    "OKTAVIANI",
    "APRILIANI",
    "UTAMI",
    "ASTUTI",
    "INDRIANI",
    "PUSPITASARI",
    "MA'RIFAH",
];

const MIDDLE: &[&str] = &[
    "NUR",
    "AGUS",
    "DWI",
    "TRI",
    "EKA",
    "SRI",
    "ADI",
    "BUDI",
    "ARI",
    "PUTRA",
    "PUTRI",
    "INDAH",
    "AYU",
    "DEWI",
    "ABDUL",
    "RAHMAT",
    "HIDAYATUL",
    "FITRIA",
    "WAHYU",
    "YUDHA",
    "MEI",
    "DESI",
];

const STREETS: &[&str] = &[
    "SUDIRMAN",
    "DIPONEGORO",
    "AHMAD YANI",
    "GATOT SUBROTO",
    "GAJAH MADA",
    "HAYAM WURUK",
    "MERDEKA",
    "PAHLAWAN",
    "KARTINI",
    "SISINGAMANGARAJA",
    "IMAM BONJOL",
    "TEUKU UMAR",
    "CUT NYAK DIEN",
    "PATTIMURA",
    "HASANUDDIN",
    "SLAMET RIYADI",
    "MELATI",
    "MAWAR",
    "KENANGA",
    "ANGGREK",
    "CEMPAKA",
    "FLAMBOYAN",
    "KAMBOJA",
    "TERATAI",
    "NANGKA",
    "MANGGA",
    "RAMBUTAN",
    "DURIAN",
    "KELAPA",
    "PEMUDA",
    "VETERAN",
    "PASAR BARU",
    "RAYA BOGOR",
    "RAYA TIMUR",
    "SUKARNO HATTA",
    "KH. HASYIM ASY'ARI",
    "KH. AHMAD DAHLAN",
    "DR. SOETOMO",
    "PROF. DR. HAMKA",
    "LETJEN SUPRAPTO",
    "MAYJEN SUNGKONO",
    "BRIGJEN KATAMSO",
    "KAPTEN TENDEAN",
    "SULTAN AGUNG",
    "DEWI SARTIKA",
    "WR. SUPRATMAN",
    "KARANG ANYAR",
    "SIMPANG TIGA",
    "LINGKAR SELATAN",
    "PELITA",
    "SETIA BUDI",
    "BHAYANGKARA",
];

const VILLAGE_A: &[&str] = &[
    "SUKA", "MEKAR", "TANJUNG", "KARANG", "SIDO", "BANJAR", "PASIR", "CIPTA", "TEGAL", "SUMBER",
    "WONO", "KEBON", "JATI", "CI", "SIMPANG", "PADANG", "BATU", "GUNUNG", "KAMPUNG", "LEMBAH",
    "RANTAU", "TELUK", "AIR", "SUNGAI", "PURWO", "MARGA", "TAMAN", "PANCA", "TRI", "SRI",
];

const VILLAGE_B: &[&str] = &[
    "MAJU",
    "JAYA",
    "MULYA",
    "REJO",
    "SARI",
    "ASRI",
    "HARJO",
    "AGUNG",
    "MAKMUR",
    "RAHARJA",
    "INDAH",
    "WARINGIN",
    "BARU",
    "LAMA",
    "TENGAH",
    "UTARA",
    "SELATAN",
    "TIMUR",
    "BARAT",
    "KENCANA",
    "LESTARI",
    "DAMAI",
    "SEJAHTERA",
    "MUKTI",
    "KARYA",
    "WANGI",
    "PURA",
    "ARUM",
    "TIRTA",
    "BAKTI",
];

const PERUM: &[&str] = &[
    "GRIYA ASRI",
    "BUMI INDAH",
    "TAMAN SARI",
    "PERMATA HIJAU",
    "GRAHA PERMAI",
    "PONDOK JAYA",
    "CITRA LAND",
    "GRIYA KENCANA",
    "VILLA MUTIARA",
    "BUMI SERPONG",
    "TAMAN WISATA",
    "GRIYA SEJAHTERA",
];

fn one<R: Rng + ?Sized>(rng: &mut R, list: &[&'static str]) -> &'static str {
    list.choose(rng).copied().unwrap_or("")
}

/// A person's name, upper case, one to four words; prefixes such as "MUH." or "A." occur.
pub fn person_name<R: Rng + ?Sized>(rng: &mut R, female: bool) -> String {
    let (given, family) = if female {
        (FEMALE_GIVEN, FEMALE_FAMILY)
    } else {
        (MALE_GIVEN, MALE_FAMILY)
    };
    let words = match rng.random_range(0..100) {
        0..12 => 1,
        12..62 => 2,
        62..92 => 3,
        _ => 4,
    };
    let mut parts: Vec<&str> = Vec::with_capacity(words);
    // Single names are full one-word given names, never an initial, title or "I GEDE".
    let first = loop {
        let w = one(rng, given);
        if words > 1 || !(w.ends_with('.') || w.contains(' ')) {
            break w;
        }
    };
    parts.push(first);
    let mut n = first.split(' ').count();
    if words > 1 {
        // A two-word given name ("NI LUH") still takes a family name.
        let words = words.max(n + 1).min(4);
        while n + 1 < words {
            let w = one(rng, MIDDLE);
            if !parts.contains(&w) {
                parts.push(w);
                n += 1;
            }
        }
        loop {
            let w = one(rng, family);
            if !parts.contains(&w) {
                parts.push(w);
                break;
            }
        }
    }
    parts.join(" ")
}

/// A street address, upper case; some are long enough to wrap to a second line on the card.
pub fn address<R: Rng + ?Sized>(rng: &mut R) -> String {
    let n = rng.random_range(1..=250u16);
    let street = one(rng, STREETS);
    let base = match rng.random_range(0..9) {
        0 => format!("JL. {street} NO. {n}"),
        1 => format!("JLN. {street} NO.{n}"),
        2 => format!("JL. {street} GG. {} NO. {n}", one(rng, STREETS)),
        3 => format!("DUSUN {}", village(rng)),
        4 => format!("DSN. {}", village(rng)),
        5 => format!(
            "PERUM {} BLOK {}{} NO. {n}",
            one(rng, PERUM),
            char::from(b'A' + rng.random_range(0..12u8)),
            rng.random_range(1..=20u8)
        ),
        6 => format!("KP. {}", village(rng)),
        7 => format!("JL. {street} {n}"),
        _ => format!("LINGKUNGAN {}", village(rng)),
    };
    // A tail of local detail makes about a quarter of addresses wrap.
    if rng.random_bool(0.25) {
        match rng.random_range(0..3) {
            0 => format!(
                "{base} KOMPLEKS {} BLOK {}",
                one(rng, PERUM),
                rng.random_range(1..=9u8)
            ),
            1 => format!("{base} DEKAT MASJID {}", one(rng, VILLAGE_B)),
            _ => format!(
                "{base} LORONG {} {}",
                one(rng, STREETS),
                rng.random_range(1..=99u8)
            ),
        }
    } else {
        base
    }
}

/// A synthetic village (kelurahan/desa) name, upper case: "SUKAMAJU", "TANJUNG SARI".
pub fn village<R: Rng + ?Sized>(rng: &mut R) -> String {
    let a = one(rng, VILLAGE_A);
    let b = one(rng, VILLAGE_B);
    // Short prefixes join the second word; longer ones are separate words.
    if a.len() <= 5 && rng.random_bool(0.7) {
        format!("{a}{b}")
    } else {
        format!("{a} {b}")
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn names_have_one_to_four_words_and_no_repeats() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for i in 0..3000 {
            let name = person_name(&mut rng, i % 2 == 0);
            let words: Vec<&str> = name.split(' ').collect();
            assert!((1..=4).contains(&words.len()), "{name}");
            assert!(words.iter().all(|w| !w.is_empty()), "{name}");
        }
    }

    #[test]
    fn every_string_is_printable_ascii_upper_case() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..2000 {
            for s in [
                address(&mut rng),
                village(&mut rng),
                person_name(&mut rng, false),
            ] {
                assert!(s.bytes().all(|b| (b' '..=b'~').contains(&b)), "{s}");
                assert_eq!(s.to_uppercase(), s);
            }
        }
        assert!(OCCUPATIONS.len() >= 40);
    }
}
