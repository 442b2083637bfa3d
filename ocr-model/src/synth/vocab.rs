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

// Names never drawn for training: the held-out name set ([`Names::Heldout`]), for measuring how
// the reader does on names it has never seen, as every name on a real card may be. No word here is
// a word of the lists above (a test checks it).
const HELDOUT_MALE_GIVEN: &[&str] = &[
    "AGUNG",
    "ARIS",
    "BENNY",
    "CAHYO",
    "DARSONO",
    "EDI",
    "FERRY",
    "GALIH",
    "HARIS",
    "INDRA",
    "JUNAEDI",
    "KHOLIK",
    "LUTFI",
    "MARDI",
    "NANANG",
    "OKTO",
    "PARDI",
    "RAHMADI",
    "SAMSUL",
    "TOTOK",
    "UJANG",
    "WAWAN",
    "YUSUF",
    "ZULKIFLI",
    "GUSTI NGURAH",
    "ABDULLAH",
    "MOH.",
    "HASAN",
    "SUTARJO",
    "PAULUS",
    "MARKUS",
    "ASEP",
    "DODI",
    "ERWIN",
    "FIRDAUS",
    "GILANG",
    "HERU",
    "ISKANDAR",
    "KUSNADI",
    "S.",
    "SYAMSUDDIN",
    "MUKHLIS",
    "QOMARUDIN",
    "VINCENTIUS",
    "XAVERIUS",
];
const HELDOUT_FEMALE_GIVEN: &[&str] = &[
    "AMINAH",
    "BUDIARTI",
    "CICIH",
    "DIAH",
    "ELY",
    "FARIDA",
    "GINA",
    "HANA",
    "IIS",
    "JUWITA",
    "LILIS",
    "MULYANI",
    "NENENG",
    "OKTAVIA",
    "PARTINI",
    "RATIH",
    "SUMARNI",
    "TUTI",
    "UTARI",
    "WIWIK",
    "YANTI",
    "ZULFA",
    "DESAK",
    "DAYU",
    "KHADIJAH",
    "ROSITA",
    "MARLINA",
    "AGNES",
    "DEBORA",
    "IKA",
    "NURSAIDAH",
    "E.",
    "QORIAH",
    "VERONIKA",
    "YOSEFINA",
    "MU'AWANAH",
];
const HELDOUT_MALE_FAMILY: &[&str] = &[
    "BATUBARA",
    "DAMANIK",
    "GULTOM",
    "HUTAGALUNG",
    "MARPAUNG",
    "NAINGGOLAN",
    "PANGARIBUAN",
    "SITORUS",
    "SILALAHI",
    "SITUMORANG",
    "TAMPUBOLON",
    "SIMATUPANG",
    "POHAN",
    "RITONGA",
    "DAULAY",
    "SARAGIH",
    "PARDEDE",
    "SIANTURI",
    "SUMARNO",
    "PURNOMO",
    "SUHARTO",
    "WIDODO",
    "SUDARSONO",
    "KUSUMA",
    "HALIM",
    "GUNADI",
    "MAULANA",
    "MAHMUD",
    "TUASIKAL",
    "PATTIPEILOHY",
    "MANUPUTTY",
    "WAROPEN",
    "MOKOAGOW",
    "PALLAWA",
    "BAHTIAR",
    "ZULKARNAEN",
    "QODIR",
    "SYARIF'UDIN",
];
const HELDOUT_FEMALE_FAMILY: &[&str] = &[
    "SURYANI",
    "HARTATI",
    "MULYASARI",
    "SETYANINGSIH",
    "WIDYASTUTI",
    "KUSUMAWATI",
    "SUSILOWATI",
    "DAMANIK",
    "GULTOM",
    "HUTAGALUNG",
    "MARPAUNG",
    "SITORUS",
    "SILALAHI",
    "SARAGIH",
    "PARDEDE",
    "ROHMAH",
    "SOLIHAH",
    "HALIMAH",
    "JUARIAH",
    "MARDIANA",
    "NOVIANTI",
    "YULIASTUTI",
    "ZAKIYAH",
    "TUASIKAL",
    "WAROPEN",
    "KURNIAWATI",
    "RAHMADANI",
    "FEBRIANTI",
    "QUROTA'AYUN",
];
const HELDOUT_MIDDLE: &[&str] = &[
    "SEPTI", "RIZAL", "ANGGA", "LIA", "RENI", "YOGA", "PUJI", "ADE", "WIDYA", "SURYA", "ANDRI",
    "DIMAS", "NOVA", "FEBRI", "IMAN", "JAYA",
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

/// Where a card's name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Names {
    /// The common-name lists above (the held-out figures of BENCHMARKS.md up to 2026-12-06 use
    /// these, and so did training until then).
    #[default]
    Lists,
    /// What training draws on: the lists for two names in five, otherwise words of any spelling
    /// ([`wide_word`]: the register's place words, made-up syllables over every letter, initials),
    /// so the recogniser learns letters and not a few hundred words.
    Wide,
    /// The lists for two names in three, otherwise [`Names::Wide`]'s words: letters learned
    /// beyond the lists without reading the common names any less often than the lists do.
    Mixed,
    /// Lists that share no word with the training lists nor, by test, with each other: names the
    /// recogniser has never seen, as every name on a real card may be.
    Heldout,
}

impl std::str::FromStr for Names {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lists" => Ok(Names::Lists),
            "wide" => Ok(Names::Wide),
            "mixed" => Ok(Names::Mixed),
            "heldout" => Ok(Names::Heldout),
            _ => Err(format!(
                "unknown name set {s:?} (expected lists, wide, mixed or heldout)"
            )),
        }
    }
}

/// A person's name from the common-name lists, upper case, one to four words; prefixes such as
/// "MUH." or "A." occur.
pub fn person_name<R: Rng + ?Sized>(rng: &mut R, female: bool) -> String {
    person_name_from(rng, female, Names::Lists)
}

/// A person's name from `names`, by the same grammar of one to four words.
pub fn person_name_from<R: Rng + ?Sized>(rng: &mut R, female: bool, names: Names) -> String {
    let (given, family, middle) = match (names, female) {
        (Names::Wide, _) if rng.random_bool(0.6) => return wide_name(rng),
        (Names::Mixed, _) if rng.random_bool(1.0 / 3.0) => return wide_name(rng),
        (Names::Lists | Names::Wide | Names::Mixed, true) => (FEMALE_GIVEN, FEMALE_FAMILY, MIDDLE),
        (Names::Lists | Names::Wide | Names::Mixed, false) => (MALE_GIVEN, MALE_FAMILY, MIDDLE),
        (Names::Heldout, true) => (HELDOUT_FEMALE_GIVEN, HELDOUT_FEMALE_FAMILY, HELDOUT_MIDDLE),
        (Names::Heldout, false) => (HELDOUT_MALE_GIVEN, HELDOUT_MALE_FAMILY, HELDOUT_MIDDLE),
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
            let w = one(rng, middle);
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

/// A name of one to four [`wide_word`]s, as many words as [`person_name`] gives.
fn wide_name<R: Rng + ?Sized>(rng: &mut R) -> String {
    let words = match rng.random_range(0..100) {
        0..12 => 1,
        12..62 => 2,
        62..92 => 3,
        _ => 4,
    };
    let mut parts: Vec<String> = Vec::with_capacity(words);
    while parts.len() < words {
        let w = wide_word(rng);
        // An initial or a title does not stand alone, nor end a name of several words.
        let last = parts.len() + 1 == words;
        if w.ends_with('.') && (words == 1 || last) {
            continue;
        }
        if !parts.contains(&w) {
            parts.push(w);
        }
    }
    parts.join(" ")
}

/// Consonants and vowels that made-up name syllables are built from: every letter, the rarer ones
/// (F, Q, V, X, Z) less often but not seldom, so none is a stranger to the recogniser.
const ONSETS: &[&str] = &[
    "B", "C", "D", "F", "G", "H", "J", "K", "L", "M", "N", "P", "Q", "R", "S", "T", "V", "W", "X",
    "Y", "Z", "KH", "SY", "NG", "NY", "B", "D", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S",
    "T", "W", "Y", "S", "R", "M", "N",
];
const VOWELS: &[&str] = &[
    "A", "I", "U", "E", "O", "A", "I", "U", "E", "A", "I", "U", "A", "AI", "IA", "O",
];
const CODAS: &[&str] = &[
    "N", "NG", "R", "S", "L", "H", "K", "M", "T", "N", "R", "H", "X",
];

/// One word of a name of any spelling: a word of the register's place names (Indonesian spelling
/// over 47,000-odd words), a made-up word of two to four syllables over every letter, now and then
/// with an apostrophe (MA'RUF), or an initial (X.).
pub fn wide_word<R: Rng + ?Sized>(rng: &mut R) -> String {
    match rng.random_range(0..100) {
        0..55 => {
            let words = &*crate::spelling::REGISTER_WORDS;
            match words.choose(rng) {
                Some(w) => w.clone(),
                None => syllables(rng),
            }
        }
        55..90 => syllables(rng),
        90..95 => {
            let mut w = syllables(rng);
            let at = rng.random_range(1..w.len());
            if w.is_char_boundary(at) && w.as_bytes()[at - 1] != b'\'' {
                w.insert(at, '\'');
            }
            w
        }
        _ => format!("{}.", char::from(b'A' + rng.random_range(0..26u8))),
    }
}

fn syllables<R: Rng + ?Sized>(rng: &mut R) -> String {
    let n = match rng.random_range(0..10) {
        0..5 => 2,
        5..9 => 3,
        _ => 4,
    };
    let mut w = String::new();
    for i in 0..n {
        // A word may start with a vowel; inside it every syllable has its consonant.
        if i > 0 || rng.random_bool(0.85) {
            w.push_str(one(rng, ONSETS));
        }
        w.push_str(one(rng, VOWELS));
        let coda = if i + 1 == n { 0.55 } else { 0.15 };
        if rng.random_bool(coda) {
            w.push_str(one(rng, CODAS));
        }
    }
    w
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
    fn held_out_names_share_no_word_with_the_training_names() {
        let words = |lists: &[&[&str]]| -> std::collections::BTreeSet<String> {
            lists
                .iter()
                .flat_map(|l| l.iter())
                .flat_map(|n| n.split(' '))
                .map(str::to_owned)
                .collect()
        };
        let train = words(&[MALE_GIVEN, FEMALE_GIVEN, MALE_FAMILY, FEMALE_FAMILY, MIDDLE]);
        let heldout = words(&[
            HELDOUT_MALE_GIVEN,
            HELDOUT_FEMALE_GIVEN,
            HELDOUT_MALE_FAMILY,
            HELDOUT_FEMALE_FAMILY,
            HELDOUT_MIDDLE,
        ]);
        let common: Vec<&String> = train.intersection(&heldout).collect();
        assert!(common.is_empty(), "{common:?}");
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for i in 0..2000 {
            let name = person_name_from(&mut rng, i % 2 == 0, Names::Heldout);
            let n = name.split(' ').count();
            assert!((1..=4).contains(&n), "{name}");
            assert!(name.split(' ').all(|w| heldout.contains(w)), "{name}");
            assert!(name.bytes().all(|b| (b' '..=b'~').contains(&b)), "{name}");
        }
    }

    #[test]
    fn wide_names_use_every_letter_and_the_card_charset_only() {
        for names in [Names::Wide, Names::Mixed] {
            wide_set_uses_every_letter(names);
        }
    }

    #[test]
    fn mixed_names_come_from_the_lists_two_times_in_three() {
        let listed: std::collections::BTreeSet<&str> =
            [FEMALE_GIVEN, FEMALE_FAMILY, MALE_GIVEN, MALE_FAMILY, MIDDLE]
                .iter()
                .flat_map(|l| l.iter().flat_map(|w| w.split(' ')))
                .collect();
        let from_lists = |names: Names| {
            let mut rng = ChaCha8Rng::seed_from_u64(6);
            (0..3000)
                .filter(|i| {
                    let name = person_name_from(&mut rng, i % 2 == 0, names);
                    name.split(' ').all(|w| listed.contains(w))
                })
                .count()
        };
        assert_eq!(from_lists(Names::Lists), 3000);
        // Two in three by draw, plus the rare wide name made only of listed words.
        let mixed = from_lists(Names::Mixed);
        assert!((1900..2150).contains(&mixed), "{mixed}");
        let wide = from_lists(Names::Wide);
        assert!((1100..1350).contains(&wide), "{wide}");
    }

    fn wide_set_uses_every_letter(names: Names) {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..3000 {
            let name = person_name_from(&mut rng, i % 2 == 0, names);
            let words: Vec<&str> = name.split(' ').collect();
            assert!((1..=4).contains(&words.len()), "{name}");
            assert!(words.iter().all(|w| !w.is_empty()), "{name}");
            assert!(!name.ends_with('.'), "{name}");
            assert!(
                name.chars().all(|c| crate::ctc::NAME_CHARS.contains(c)),
                "{name}"
            );
            seen.extend(name.chars().filter(char::is_ascii_uppercase));
        }
        assert_eq!(seen.len(), 26, "{names:?} {seen:?}");
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
