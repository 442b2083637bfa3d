//! Accuracy of the shipped reader on held-out synthetic cards (fonts and seed never used in training),
//! per tier, against the floors below. Each tier's report is printed, so CI logs show the numbers.
//!
//! The floors sit a little under what the shipped model measured on this set (BENCHMARKS.md), so a
//! model or pipeline change that loses accuracy fails here. Where they are below the targets
//! (NIK 99.5 / 99 / 70 %, name 97 / 95 / 60 %) the floor follows what is measured: see
//! BENCHMARKS.md for what is missed and why.

use ocr_model::eval::{self, TierReport};
use ocr_model::fields::Warning;
use ocr_model::reader::KtpReader;
use ocr_model::synth::{FontSet, LineRole, Names, Renderer, Split, Tier, fonts};

/// Cards per tier (rendered and read in the test, two threads).
const CARDS: u64 = 150;
/// Render seed of the held-out set (training used seed 1).
const SEED: u64 = 2;

struct Floor {
    tier: Tier,
    nik_exact: f64,
    name_exact: f64,
    max_cer: f64,
    /// Share of cards whose NIK is returned confident (≥ 0.9, no NIK warning): a right NIK the
    /// operator is not asked to check again.
    confident_nik: f64,
}

// Measured on this set with the shipped model (2026-12-06, trained on mixed names, `ktp-eval
// --count 150 --threads 2`): scan NIK 100 %, name 100 %, CER 0.17 %; photo 100 %, 97.3 %, 0.18 %;
// hard 80.7 %, 40.0 %, 11.9 %; confident NIKs 100 %, 100 %, 45.3 %. (The model of 2026-12-03, on
// lists only: 100 / 98.7, 99.3 / 98.7, 80.0 / 38.0 % with the finder of 2026-12-02.)
const FLOORS: [Floor; 3] = [
    Floor {
        tier: Tier::Scan,
        nik_exact: 0.98,
        name_exact: 0.97,
        max_cer: 0.008,
        confident_nik: 0.95,
    },
    Floor {
        tier: Tier::Photo,
        nik_exact: 0.97,
        name_exact: 0.96,
        max_cer: 0.008,
        confident_nik: 0.95,
    },
    Floor {
        tier: Tier::Hard,
        nik_exact: 0.75,
        // 52.7 % measured on these 150 cards with the name model reading three cuts of a doubtful
        // name (2026-12-08), 50.0 % with its one (2026-12-07 night), 47.3 % with the name words
        // alone (2026-12-07 evening), 40.0 % before them.
        name_exact: 0.50,
        max_cer: 0.2,
        confident_nik: 0.42,
    },
];

/// Close-ups (NIK exact, name exact): measured 97.0 % and 96.0 % on 300 cards, 96.7 % and 96.7 %
/// on these 60 (2026-12-03 afternoon, `ktp-eval --tiers closeup --count 300`; 94.0 % and 89.3 %
/// before the value columns followed sheared and far-off colons). A card cut by the photo's edge
/// on one side is laid out from that edge: stretched and sheared, which the colons now undo.
/// With the photocopy guesses tried as well (2026-12-06 evening): 98.0 % and 99.0 % on 300 cards,
/// 96.7 % and 98.3 % on these 60.
const CLOSE_UP_FLOOR: (f64, f64) = (0.9, 0.9);

/// Over all tiers, the share of confidently returned NIKs (no NIK warning) that may be wrong.
const MAX_CONFIDENT_WRONG: f64 = 0.002;

/// List names returned sure (>= 0.9, no warning) and wrong, over the three tiers' 450 cards:
/// measured 1 (RUDI LAIA read LAJA in a held-out face whose I the model takes for a J). Every model
/// trained since 2026-12-04 does this on a card or two; the shipped one returns far fewer names
/// sure and wrong over list and never-seen names together (3 of 900, against 7 for the model of
/// 2026-12-03), so each half is held where it was measured rather than asking zero of this one.
const MAX_LIST_NAME_SURE_WRONG: usize = 1;

/// How many `key` fields the report returned sure (>= 0.9, no warning) and wrong.
fn sure_wrong(r: &TierReport, key: &str) -> usize {
    r.confident_wrong_fields
        .iter()
        .filter(|(k, _)| *k == key)
        .map(|(_, n)| *n)
        .sum()
}

fn report(reader: &KtpReader, tier: Tier, names: Names, cards: u64) -> TierReport {
    let fonts = FontSet::load(&fonts::default_font_dir(), Split::Heldout).expect("fonts");
    let renderer = Renderer::new(fonts, tier, SEED).with_names(names);
    let results = eval::run(reader, &renderer, 0, cards, 2).expect("render");
    eval::summarize(tier, &results)
}

/// The shipped reader's report on the first `cards` held-out cards of `tier`, printed.
fn shipped_report(tier: Tier, cards: u64) -> TierReport {
    let reader = KtpReader::shipped().expect("shipped model");
    let r = report(&reader, tier, Names::Lists, cards);
    println!("{r}");
    r
}

#[test]
fn held_out_accuracy_meets_the_floors_in_every_tier() {
    let reader = KtpReader::shipped().expect("shipped model");
    let mut confident = 0;
    let mut confident_wrong = 0;
    let mut failures = Vec::new();
    let mut names_sure_wrong = 0;
    for floor in &FLOORS {
        let r = report(&reader, floor.tier, Names::Lists, CARDS);
        println!("{r}");
        confident += r.confident;
        confident_wrong += r.confident_wrong;
        if r.nik_exact < floor.nik_exact {
            failures.push(format!(
                "{:?}: NIK exact {:.3} < {:.3}",
                floor.tier, r.nik_exact, floor.nik_exact
            ));
        }
        if r.name_exact < floor.name_exact {
            failures.push(format!(
                "{:?}: name exact {:.3} < {:.3}",
                floor.tier, r.name_exact, floor.name_exact
            ));
        }
        // The name and the birth line are returned sure on their CTC probability
        // (`reader::lines::POSTERIOR_LINES`), the village on its own among the district's registered
        // villages (`reader::lines::registered_village`): never a wrong birth line or village, and
        // names at most `MAX_LIST_NAME_SURE_WRONG` over all tiers.
        names_sure_wrong += sure_wrong(&r, "name");
        for (key, n) in r
            .confident_wrong_fields
            .iter()
            .filter(|(k, _)| ["birth_place", "birth_date", "village"].contains(k))
        {
            failures.push(format!(
                "{:?}: {n} wrong {key} returned at >= 0.9 without a warning",
                floor.tier
            ));
        }
        let confident_share = r.confident as f64 / r.cards as f64;
        if confident_share < floor.confident_nik {
            failures.push(format!(
                "{:?}: confident NIKs {confident_share:.3} < {:.3}",
                floor.tier, floor.confident_nik
            ));
        }
        if r.cer_read > floor.max_cer {
            failures.push(format!(
                "{:?}: CER {:.4} > {:.4}",
                floor.tier, r.cer_read, floor.max_cer
            ));
        }
    }
    println!("list names returned sure and wrong: {names_sure_wrong}");
    if names_sure_wrong > MAX_LIST_NAME_SURE_WRONG {
        failures.push(format!(
            "{names_sure_wrong} list names returned sure and wrong > {MAX_LIST_NAME_SURE_WRONG}"
        ));
    }
    let rate = confident_wrong as f64 / (3 * CARDS) as f64;
    println!(
        "confidently wrong NIKs: {confident_wrong} of {confident} confident, {} cards",
        3 * CARDS
    );
    if rate > MAX_CONFIDENT_WRONG {
        failures.push(format!(
            "confidently wrong NIKs {rate:.4} > {MAX_CONFIDENT_WRONG}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Names the recogniser has never seen: the held-out name lists share no word with any name
/// training drew (`synth::Names::Heldout`), as any name on a real card may be new to it. The
/// shipped model was trained on mixed names (the common-name lists for two in three, otherwise
/// made-up words over every letter), and reads these 150 cards per tier (2026-12-06, `ktp-eval
/// --count 150 --names heldout`) scan 96.7 %, photo 98.7 %, hard 28.0 %, with 1 + 0 + 1 names
/// returned sure (>= 0.9, no warning) and wrong. The model before it, trained on the lists only,
/// read 86.7 / 88.7 / 31.3 % and returned 7 sure and wrong (XAVERIUS read KAVERIUS). With the
/// common name words (`spelling::PERSON_NAME_SPELLING`, 2026-12-07 evening; about a third of the
/// held-out lists' words are among them): 98.7 / 98.7 / 35.3 %, 2 sure and wrong, against
/// 97.3 / 98.7 / 30.7 % and 3 just before. With the name model's second opinion as well
/// (2026-12-07 night): 98.7 / 99.3 / 42.7 %, 2 sure and wrong. With its three cuts of a doubtful
/// name (2026-12-08): 98.7 / 99.3 / 40.7 %, 2 sure and wrong (on 1,500 such cards, as many
/// names gained as lost: BENCHMARKS.md).
const NEVER_SEEN_NAME_FLOORS: [(Tier, f64); 3] =
    [(Tier::Scan, 0.96), (Tier::Photo, 0.97), (Tier::Hard, 0.39)];
/// Never-seen names returned sure and wrong, over the three tiers' 450 cards (measured: 2).
const MAX_NEVER_SEEN_SURE_WRONG: usize = 3;

#[test]
fn names_never_seen_in_training_are_read() {
    let reader = KtpReader::shipped().expect("shipped model");
    let mut failures = Vec::new();
    let mut names_sure_wrong = 0;
    for (tier, floor) in NEVER_SEEN_NAME_FLOORS {
        let r = report(&reader, tier, Names::Heldout, CARDS);
        println!("never-seen names: {r}");
        if r.name_exact < floor {
            failures.push(format!(
                "{tier:?}: never-seen names exact {:.3} < {floor:.3}",
                r.name_exact
            ));
        }
        names_sure_wrong += sure_wrong(&r, "name");
    }
    println!("never-seen names returned sure and wrong: {names_sure_wrong}");
    if names_sure_wrong > MAX_NEVER_SEEN_SURE_WRONG {
        failures.push(format!(
            "{names_sure_wrong} never-seen names returned sure and wrong > {MAX_NEVER_SEEN_SURE_WRONG}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Photos nobody could read (blur wider than the letters, little light, a small card): most are
/// refused, and of what is read, no field is returned confidently (≥ 0.9, no warning) and wrong.
#[test]
fn unreadable_photos_are_refused_or_flagged_never_guessed() {
    let cards = 60;
    let r = shipped_report(Tier::Unreadable, cards);
    assert!(
        r.refused as f64 >= 0.8 * cards as f64,
        "only {} of {cards} refused",
        r.refused
    );
    assert!(
        r.confident_wrong_fields.is_empty(),
        "confidently wrong fields: {:?}",
        r.confident_wrong_fields
    );
}

/// Close-ups: the card a little wider than the photo, its corners outside the frame, so the
/// finder has no outline to find; the reader lays the card out over the frame instead
/// (`detect::close_up_guesses`). Read, not refused, and never confidently wrong.
#[test]
fn close_ups_without_corners_are_read() {
    read_at_floor(Tier::CloseUp, CLOSE_UP_FLOOR);
}

/// The shipped reader's report on the first 60 held-out cards of a tier outside the three target
/// tiers (close-ups, copies, webcams, tilted photos), asserted to read NIKs and names at or above
/// `floor` (exact, exact) and no NIK confidently wrong.
fn read_at_floor(tier: Tier, floor: (f64, f64)) -> TierReport {
    let r = shipped_report(tier, 60);
    assert!(
        r.nik_exact >= floor.0 && r.name_exact >= floor.1,
        "{tier:?}: NIK exact {:.3}, name exact {:.3}, floors {floor:?}",
        r.nik_exact,
        r.name_exact,
    );
    assert_eq!(r.confident_wrong, 0, "{tier:?}: confidently wrong NIKs");
    r
}

/// Photocopies (`Tier::Copy`): the fotokopi KTP a patient brings, scanned or photographed flat,
/// grey and washed out so that no edge of the card shows; the reader guesses the card around its
/// print (`layout::Print::box_guesses`). Measured 2026-12-06 (`ktp-eval --tiers copy --count 300`):
/// NIK 91.0 %, name 86.7 %, 23 refused (among them pages with a shadow across, its edge taken
/// for print), no field returned sure; 93.3 % and 91.7 % on these 60. Before the guesses 284 of the
/// 300 were refused (BENCHMARKS.md, 2026-12-06 evening). Nothing laid out on a guessed card is
/// sure: every field is for the operator to check.
const COPY_FLOOR: (f64, f64) = (0.85, 0.8);

#[test]
fn photocopies_without_a_card_edge_are_read_and_left_for_checking() {
    let r = read_at_floor(Tier::Copy, COPY_FLOOR);
    assert!(
        r.confident_wrong_fields.is_empty(),
        "confidently wrong fields: {:?}",
        r.confident_wrong_fields
    );
}

/// A kiosk's 640 x 480 webcam (`Tier::Webcam`): the card's text at 4.5-6.7 px per mm, below the
/// 6-11 the recogniser was trained on, with the camera's blur as large in pixels as a phone's.
/// Measured 2026-12-06 (`ktp-eval --tiers webcam --count 300 --seed 2/3/5`): NIK 99.7 / 99.3 /
/// 99.7 %, names 92.3 / 87.3 / 87.0 %, no NIK confidently wrong; 98.3 % and 91.7 % on these 60.
const WEBCAM_FLOOR: (f64, f64) = (0.95, 0.8);

#[test]
fn webcam_photos_are_read() {
    read_at_floor(Tier::Webcam, WEBCAM_FLOOR);
}

/// Phone photos taken at an angle (`Tier::Tilted`): the card turned 25-45 degrees from the camera,
/// its far side shortened, so that its outline's own side ratio is often far from the card's. The
/// finder judges such an outline by the rectangle it shows through a phone's camera
/// (`detect::judged_ratio`). Measured 2026-12-07 (`ktp-eval --tiers tilted --count 300`, seeds 2 / 3
/// / 5): see BENCHMARKS.md; 95.0 % and 83.3 % on these 60.
const TILTED_FLOOR: (f64, f64) = (0.9, 0.75);

#[test]
fn photos_taken_at_an_angle_are_read() {
    read_at_floor(Tier::Tilted, TILTED_FLOOR);
}

/// A camera that saves what its preview shows (some webcams, a phone's front camera) mirrors the
/// photo, and the card's print runs right to left. Until 2026-12-07, 38 of 40 such photos were
/// refused (`not_a_ktp`, `too_blurred`); now the finder's outline is read mirrored back when it
/// reads as no KTP or as nonsense (`reader::read_mirrored`), kept only if its NIK agrees with the
/// card, and the reading says `photo_mirrored`, so that the clinic can set the camera right.
#[test]
fn a_mirrored_photo_is_read_back_and_says_so() {
    let options = eval::Options {
        mirror: true,
        ..eval::Options::default()
    };
    let (reader, renderer, _) = photos_read_as("mirrored", options, MIRRORED_FLOOR);
    // The warning, on the mirrored photo only.
    let sample = renderer.render(0).expect("render");
    let warned = |bytes: &[u8]| {
        let scan = reader.read_bytes(bytes).expect("read");
        scan.reading.warnings.contains(&Warning::PhotoMirrored)
    };
    assert!(warned(&sample.mirrored_png().expect("png")));
    assert!(!warned(&sample.file_bytes().expect("file").0));
}

/// The shipped reader, the photo tier's renderer and its report on the first 30 held-out photos
/// given to the reader as `options` says (`what` names them in the printed report), asserted to
/// read NIKs and names at or above `floor` (exact, exact) and no NIK confidently wrong.
fn photos_read_as(
    what: &str,
    options: eval::Options,
    floor: (f64, f64),
) -> (KtpReader, Renderer, TierReport) {
    let reader = KtpReader::shipped().expect("shipped model");
    let fonts = FontSet::load(&fonts::default_font_dir(), Split::Heldout).expect("fonts");
    let renderer = Renderer::new(fonts, Tier::Photo, SEED);
    let results = eval::run_with(&reader, &renderer, 0, 30, 2, options).expect("render");
    let r = eval::summarize(Tier::Photo, &results);
    println!("{what}: {r}");
    assert!(
        r.nik_exact >= floor.0 && r.name_exact >= floor.1,
        "{what}: NIK {:.3}, name {:.3}",
        r.nik_exact,
        r.name_exact
    );
    assert_eq!(r.confident_wrong, 0, "{what}: confidently wrong NIKs");
    (reader, renderer, r)
}

/// What the mirrored photo test's 30 cards must read (NIK, name exact).
const MIRRORED_FLOOR: (f64, f64) = (0.95, 0.9);

/// A long address wraps, and often what wraps is the house number alone ("61" under "JL. MELATI
/// GG. LETJEN SUPRAPTO NO."). Such a line has too little ink to stand out as a row, and until
/// 2026-12-07 the reader returned the address without it: 19 of 300 held-out scans and 15 of 300
/// photos (`ktp-eval --count 300 --tiers scan,photo --show`); here 3 of 16 scans came back whole. Now the row the grid says is there is
/// looked for on its own (`layout::short_wrapped_lines`) and cut at the cap height centred on its
/// ink (`layout::line_top`). Of the first 150 scans and photos, every address whose second line is
/// four characters or fewer must come back whole, but for one.
#[test]
fn a_house_number_wrapped_alone_is_read_with_its_address() {
    let reader = KtpReader::shipped().expect("shipped model");
    for tier in [Tier::Scan, Tier::Photo] {
        let fonts = FontSet::load(&fonts::default_font_dir(), Split::Heldout).expect("fonts");
        let renderer = Renderer::new(fonts, tier, SEED);
        let results = eval::run(&reader, &renderer, 0, CARDS, 2).expect("render");
        let (mut short, mut whole) = (0, 0);
        for r in &results {
            let sample = renderer.render(r.index).expect("render");
            let lines: Vec<&str> = sample
                .label
                .lines
                .iter()
                .filter(|l| l.role == LineRole::Value && l.key == "address")
                .map(|l| l.text.as_str())
                .collect();
            if lines.len() != 2 || lines[1].chars().count() > 4 {
                continue;
            }
            short += 1;
            if r.fields.iter().any(|f| f.key == "address" && f.right) {
                whole += 1;
            }
        }
        println!("{tier:?}: {whole} of {short} addresses with a short second line read whole");
        assert!(short >= 5, "{tier:?}: only {short} such cards");
        assert!(
            whole + 1 >= short,
            "{tier:?}: {whole} of {short} read whole"
        );
    }
}

/// A phone saves a 12-megapixel photo (4000 pixels long): the same held-out photos resampled to
/// that size read as well as at 1024 pixels (measured 100 % NIK and 97 % names on 100 photo-tier
/// cards, 2026-12-06, `ktp-eval --tiers photo --count 100 --resize 4000`): such a JPEG is decoded
/// at half size (`reader::decode_reduced`), and nothing in the finder or the layout counts in the
/// photo's pixels.
#[test]
fn twelve_megapixel_phone_photos_read_as_well() {
    let options = eval::Options {
        resize_long: Some(4000),
        ..eval::Options::default()
    };
    let (_, _, r) = photos_read_as("at 4000 px", options, (0.95, 0.93));
    assert!(
        r.confident_wrong_fields.is_empty(),
        "{:?}",
        r.confident_wrong_fields
    );
}

/// A photo whose best outline is not the card's: on seed 2's hard card 63 the finder scores a
/// shadow's outline above the card's own, and read from it (upside down, eleven warnings) the card
/// gave a NIK that looked valid and nothing else right. A reading that makes little sense either
/// way round has the other candidates read as well, and the most consistent is kept: the card's
/// own outline, its NIK read right.
#[test]
fn a_reading_that_makes_no_sense_has_the_other_outlines_read() {
    let reader = KtpReader::shipped().expect("shipped model");
    let fonts = FontSet::load(&fonts::default_font_dir(), Split::Heldout).expect("fonts");
    let renderer = Renderer::new(fonts, Tier::Hard, SEED);
    let results =
        eval::run_with(&reader, &renderer, 63, 1, 1, eval::Options::default()).expect("render");
    let card = &results[0];
    assert_eq!(card.refused, None);
    assert!(card.nik_exact, "{:?}", card.fields);
}
