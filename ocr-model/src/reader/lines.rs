//! One printed line's text from the recogniser's probabilities: each field by what it may hold
//! (the NIK, RT/RW and dates by their formats, closed vocabularies by their values, names and
//! addresses with the spelling prior, titles, villages from the register), and how sure each is.

use crate::ctc::{NIK_CHARS, RT_RW_CHARS};
use crate::fields::{self, KtpReading};
use crate::spelling::{self, REGISTER_SPELLING, SpellingPrior};
use crdt_schema::nik::Sex;
use crdt_schema::patient::vocab;

/// How the name and address lines are decoded: a beam search weighing the recogniser's reading
/// against how Indonesian words are spelled ([`crate::spelling`]). Chosen on held-out cards of
/// other seeds (3 and 5) than the one reported (2): on 300 hard cards of each, names read exactly
/// went from 118 and 113 (greedy) to 124-133 and 121-127 for weights 0.2-0.5 and bonuses 0.3-1.5;
/// a bonus of 1.5 inserted letters on seed 2 ("IMAM" read "IMAMI"), one near the prior's own mean
/// cost per character (0.3 x 1.56) does not.
///
/// A common name word ([`spelling::PERSON_NAME_SPELLING`]) read whole earns 3 nats: a letter
/// the recogniser gives a twentieth of its rival's probability may be read as the word's
/// (addresses have no such words). Hard cards of seeds 3 and 5, 300 each, names right with list
/// names / never-seen names (`ktp-eval --tiers hard --seed S --names N --name-word-bonus B`):
/// with no bonus 154 / 114 and 133 / 101, 2 nats 159 / 118 and 142 / 106, 3 nats 162 / 118 and
/// 143 / 107, 4 nats 163 / 118 and 141 / 108, 6 nats 161 / 114 and 141 / 107. Without the name
/// words at all (the reader before them): 135 / 105 and 120 / 90.
pub const NAME_SPELLING: SpellingPrior = SpellingPrior {
    weight: 0.3,
    bonus: 0.45,
    word_bonus: 3.0,
    beam: 12,
};

/// Lines whose confidence is the model's probability of the text as read (the CTC forward
/// sum over every alignment, [`crate::ctc::log_likelihood`]) instead of the greedy product of
/// characters and least-sure blanks. The greedy product's blank factor is there to doubt a
/// free-text line that may have dropped a half-seen letter, but it falls with the line's length:
/// it doubted a right NIK on a quarter of clean scans and a right name on nine in ten.
/// - NIK, RT/RW: read against a fixed template, which fixes the length.
/// - Province, regency: checked against the region table and the NIK's region code.
/// - Name, birth place and date: measured, not argued. With the probability, and a card whose
///   layout is doubted held under 0.9 ([`doubt_layout`](super::doubt_layout)), no wrong name, birth place or birth
///   date was returned at 0.9 or more on 2 x 1,200 held-out cards (seeds 2 and 4, every tier),
///   against 284 of 300 right names on scans now sure (27 before) and 288 birth places (92).
/// - Address (since 2026-12-07, evening): each line its probability squared
///   ([`ADDRESS_POWER`]), the field their product. With the product, 27 of 1,544 right
///   addresses were sure (seed 2, six tiers): the operator was asked to check every one. With
///   the plain probability (tried that morning), 11 wrong ones of 5,400 cards were sure: a
///   close-up's last digit or a first "J" the line's box cut off (the boxes now follow such
///   letters, `layout::extent`), glare over the end of a line (now doubted, [`CUT_LINE_AT_MOST`](super::CUT_LINE_AT_MOST)),
///   a letter misread ("E5" read "ES", "B7" read "87", "NO." read "NO"), each with a probability
///   of 0.91 to 0.93, under the 0.95 the square asks for.
///
/// The village keeps the product (a village snapped to the wrong entry of the register would
/// pass). `ktp-eval --dump`; BENCHMARKS.md.
const POSTERIOR_LINES: [&str; 7] = [
    "nik", "rt_rw", "province", "regency", "name", "birth", "address",
];

/// A read line's confidence: see [`POSTERIOR_LINES`].
pub(super) fn line_confidence(
    key: &str,
    decoded: &crate::ctc::Decoded,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> f32 {
    if !POSTERIOR_LINES.contains(&key) {
        return decoded.confidence;
    }
    let power = if key == "address" { ADDRESS_POWER } else { 1.0 };
    match logits.log_likelihood(charset, &decoded.text) {
        Ok(Some(l)) => (power * l).exp() as f32,
        _ => decoded.confidence,
    }
}

/// An address line's confidence is its probability to this power: sure (0.9) from a probability
/// of 0.95. See [`POSTERIOR_LINES`].
const ADDRESS_POWER: f64 = 2.0;

const D: &str = crate::ctc::NIK_CHARS;
/// A NIK: sixteen digits.
const NIK_TEMPLATE: [&str; 16] = [D; 16];
/// RT/RW as printed: `018/010`.
const RT_RW_TEMPLATE: [&str; 7] = [D, D, D, "/", D, D, D];
/// A printed date, `DD-MM-YYYY`.
pub(super) const DATE_TEMPLATE: [&str; 10] = [D, D, "-", D, D, "-", D, D, D, D];

/// Decodes one line by what its field may hold: the NIK and RT/RW by their fixed formats (the best
/// reading of the right length and characters), the date after the birth line's comma and a
/// printed expiry date likewise, everything else greedily.
pub(super) fn decode_line(
    key: &str,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    let fixed =
        |template: &[&str], fallback: &str| -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
            match logits.template(charset, template)? {
                Some(d) => Ok(d),
                None => logits.constrained(charset, fallback),
            }
        };
    match key {
        "nik" => fixed(&NIK_TEMPLATE, NIK_CHARS),
        "rt_rw" => fixed(&RT_RW_TEMPLATE, RT_RW_CHARS),
        "name" => logits.restricted(charset, crate::ctc::NAME_CHARS),
        "birth" => {
            let greedy = logits.greedy(charset)?;
            let Some(comma) = greedy.text.rfind(',') else {
                return Ok(greedy);
            };
            let mut template = vec![" "];
            template.extend(DATE_TEMPLATE);
            let date = logits
                .after_last(charset, ',')
                .map(|tail| tail.template(charset, &template))
                .transpose()?
                .flatten();
            let Some(date) = date else { return Ok(greedy) };
            let head = &greedy.text[..=comma];
            let n = head.chars().count();
            let mut confs: Vec<f32> = greedy.char_confidences[..n].to_vec();
            confs.extend(&date.char_confidences);
            Ok(crate::ctc::Decoded {
                text: format!("{head}{}", date.text),
                confidence: confs.iter().product(),
                char_confidences: confs,
                frames: Vec::new(),
            })
        }
        "valid_until" => {
            let greedy = logits.greedy(charset)?;
            if greedy.text.chars().filter(char::is_ascii_digit).count() >= 4
                && let Some(d) = logits.template(charset, &DATE_TEMPLATE)?
            {
                return Ok(d);
            }
            closed(logits, charset, greedy, &[fields::SEUMUR_HIDUP])
        }
        "blood_type" => blood_type(logits, charset),
        "sex" => closed(logits, charset, logits.greedy(charset)?, &vocab::SEX),
        "religion" => closed(logits, charset, logits.greedy(charset)?, &vocab::RELIGION),
        "marital_status" => closed(
            logits,
            charset,
            logits.greedy(charset)?,
            &vocab::MARITAL_STATUS,
        ),
        "nationality" => closed(
            logits,
            charset,
            logits.greedy(charset)?,
            &vocab::NATIONALITY,
        ),
        "occupation" => closed(
            logits,
            charset,
            logits.greedy(charset)?,
            fields::OCCUPATIONS,
        ),
        _ => logits.greedy(charset),
    }
}

/// The characters a blood type is printed with.
const BLOOD_TYPE_CHARS: &str = "ABO-";

/// The blood type: read in [`BLOOD_TYPE_CHARS`] and chosen among the values the model can spell
/// (it has no "+": the renderer never prints a rhesus, so the model never learned one), so a B the
/// model leans to read as 8 is still a B. It is as sure as the model's probability of the value on
/// the line, not its share among five values (which says little of a blurred line), and a dash
/// no surer than its greedy reading: where glare or blur wiped the letter, what is left may read
/// as one, and its probability summed over alignments returned four more wrong dashes sure on 900
/// hard cards.
fn blood_type(
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    let printable: Vec<&str> = vocab::BLOOD_TYPE
        .iter()
        .copied()
        .filter(|v| v.chars().all(|ch| charset.class_of(ch).is_some()))
        .collect();
    let free = logits.restricted(charset, BLOOD_TYPE_CHARS)?;
    let chosen = closed(logits, charset, free, &printable)?;
    let mut p = probability(logits, charset, &chosen.text)?;
    if chosen.text == "-" {
        p = p.min(logits.greedy(charset)?.confidence);
    }
    Ok(crate::ctc::Decoded::chosen(
        chosen.text,
        chosen.confidence.min(p),
    ))
}

/// The model's probability of `text` on the line: the CTC forward sum over every alignment (0 when
/// the line is too short to hold it).
fn probability(
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    text: &str,
) -> Result<f32, crate::ctc::CtcError> {
    Ok(logits
        .log_likelihood(charset, text)?
        .map_or(0.0, |l| l.exp() as f32))
}

/// Titles printed before a name: Haji, Hajjah, and the academic ones.
const NAME_TITLES: [&str; 6] = ["H.", "HJ.", "HM.", "DR.", "DRS.", "IR."];

/// How much likelier than its reading a title must be as the name's first word, by the
/// recogniser, for the title to be taken instead: a title is a common first word, and a thin
/// letter in it (the J of HJ.) is easily read as another or lost.
const TITLE_PRIOR: f64 = 4.0;

/// A name whose first word reads as nearly a title (`HI.`, `HIJ`, `HJ` for `HJ.`): the title
/// instead, at the recogniser's own probability of the line with it, when the recogniser finds
/// that line at least 1 / [`TITLE_PRIOR`] as likely as the one read. Titles two edits or less
/// from the word read are tried; a word read clearly ("IRA" for "IR.") keeps far more
/// probability than the prior makes up for.
pub(super) fn titled(
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    read: crate::ctc::Decoded,
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    let (first, rest) = read.text.split_once(' ').unwrap_or((&read.text, ""));
    // A letter alone, with a dot or not, is an initial ("M.", "A.") or Bali's "I": a word in its
    // own right, one edit from a title.
    let letter_alone = first.trim_end_matches('.').chars().count() <= 1;
    if rest.is_empty() || letter_alone || NAME_TITLES.contains(&first) {
        return Ok(read);
    }
    let Some(read_ll) = logits.log_likelihood(charset, &read.text)? else {
        return Ok(read);
    };
    let near = NAME_TITLES
        .iter()
        .filter(|title| fields::edit_distance(first, title) <= 2);
    let best = likeliest_first_word(logits, charset, near, rest, read_ll - TITLE_PRIOR.ln())?;
    Ok(match best {
        Some((text, l)) => crate::ctc::Decoded::chosen(text, l.exp() as f32),
        None => read,
    })
}

/// The line `rest` after the likeliest of `words` by the recogniser, with its log-likelihood, if
/// that is over `needs`.
fn likeliest_first_word<'a>(
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    words: impl IntoIterator<Item = &'a &'a str>,
    rest: &str,
    needs: f64,
) -> Result<Option<(String, f64)>, crate::ctc::CtcError> {
    let mut best: Option<(String, f64)> = None;
    for word in words {
        let text = format!("{word} {rest}");
        if let Some(l) = logits.log_likelihood(charset, &text)?
            && l > needs
            && best.as_ref().is_none_or(|b| l > b.1)
        {
            best = Some((text, l));
        }
    }
    Ok(best)
}

/// Titles only a man's name starts with (Haji, Haji Muhammad) and the one only a woman's does
/// (Hajjah).
const MEN_ONLY_TITLES: [&str; 2] = ["H.", "HM."];
const WOMEN_ONLY_TITLES: [&str; 1] = ["HJ."];

/// Balinese names given by birth order (and LUH, a girl's): after them a man's name starts with
/// "I", a woman's with "NI" ("I KETUT", "NI LUH"). (Not GUSTI: a woman of that caste is "I GUSTI
/// AYU".)
const BALI_ORDER_NAMES: [&str; 10] = [
    "WAYAN", "PUTU", "GEDE", "LUH", "MADE", "KADEK", "NENGAH", "NYOMAN", "KOMANG", "KETUT",
];

/// How much likelier than its reading the first word of the card's sex must be, by the
/// recogniser, to be taken instead of a near reading ([`first_word_for_sex`]).
const SEX_WORD_PRIOR: f64 = 20.0;

/// The most a name keeps whose first word was changed for the card's sex: below the 0.9 at which
/// a field counts as sure, for the operator to check.
const SEX_WORD_AT_MOST: f32 = 0.85;

/// The first words of the card's sex that may stand in place of `first`, and whether `first` is
/// the other sex's (then it is replaced) rather than a near reading of one of them (then only if
/// the line allows it); `None` when it is neither. Which words are the sex's depends on the name's
/// second word: after a Balinese birth-order name, I and NI; otherwise the Haj titles.
fn sex_marks(sex: Sex, first: &str, second: &str) -> Option<(&'static [&'static str], bool)> {
    let bali = BALI_ORDER_NAMES.contains(&second);
    let (other, own, near_to): (&[&str], &'static [&'static str], &str) = match (sex, bali) {
        (Sex::Female, false) => (&MEN_ONLY_TITLES, &WOMEN_ONLY_TITLES, "HJ."),
        // A man's titles are a letter and a dot: a near reading of one is an initial.
        (Sex::Male, false) => (&WOMEN_ONLY_TITLES, &MEN_ONLY_TITLES, ""),
        (Sex::Female, true) => (&["I"], &["NI"], "NI"),
        (Sex::Male, true) => (&["NI"], &["I"], "I"),
    };
    if other.contains(&first) {
        return Some((own, true));
    }
    let near = !near_to.is_empty()
        && !own.contains(&first)
        && !NAME_TITLES.contains(&first)
        && first.chars().count() <= near_to.chars().count() + 1
        && (near_to.chars().count() == 1 || first.chars().next() == near_to.chars().next())
        && fields::edit_distance(first, near_to) <= 2;
    near.then_some((own, false))
}

/// A name's first word as the card's sex has it. The printed sex, when the NIK agrees with it,
/// says which of the Haj titles a name may start with, and after a Balinese birth-order name
/// whether it starts with "I" (a man's) or "NI" (a woman's). A woman's "H." or "HM." is her HJ.
/// with its thin J lost (it is rarely an initial: a woman's first word is), a man's "HJ." his
/// H. or HM. (the likelier by the recogniser), a woman's "I WAYAN" her "NI WAYAN" and a man's
/// "NI" his "I": replaced, however little the line shows of the difference. A short first word
/// near her HJ. ("HE.", "H.I") or near the Balinese marker of the card's sex ("NE LUH", "NIE
/// LUH") is taken for it when the recogniser finds the line with it at least 1 /
/// [`SEX_WORD_PRIOR`] as likely as the line read. Either way the name keeps the recogniser's
/// probability of the line with the new word, at most [`SEX_WORD_AT_MOST`]: the operator
/// checks it.
pub(super) fn first_word_for_sex(
    reading: &mut KtpReading,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> Result<(), crate::ctc::CtcError> {
    if reading
        .warnings
        .iter()
        .any(|w| matches!(w, fields::Warning::NikSexMismatch))
    {
        return Ok(());
    }
    let Some(sex) = Sex::from_ktp(&reading.fields.sex.value) else {
        return Ok(());
    };
    let name = &mut reading.fields.name;
    let Some((first, rest)) = name.value.split_once(' ') else {
        return Ok(());
    };
    let second = rest.split(' ').next().unwrap_or("");
    let Some((own, wrong)) = sex_marks(sex, first, second) else {
        return Ok(());
    };
    let Some(read_ll) = logits.log_likelihood(charset, &name.value)? else {
        return Ok(());
    };
    // The other sex's word is replaced whatever the line shows; a near reading only when the
    // line allows it.
    let needs = if wrong {
        f64::NEG_INFINITY
    } else {
        read_ll - SEX_WORD_PRIOR.ln()
    };
    if let Some((text, l)) = likeliest_first_word(logits, charset, own, rest, needs)? {
        name.value = text;
        name.confidence = (l.exp() as f32).min(SEX_WORD_AT_MOST);
    }
    Ok(())
}

/// A name or address line read with the spelling prior: the beam search's reading (of an
/// address, only its words without digits: [`letters_only`]), at the recogniser's own probability
/// of it, or the greedy reading when the two agree.
pub(super) fn read_with_spelling(
    key: &str,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    greedy: crate::ctc::Decoded,
    prior: SpellingPrior,
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    if greedy.min_char_confidence() >= SPELLING_SURE_AT {
        return Ok(greedy);
    }
    let allowed = if key == "name" {
        crate::ctc::NAME_CHARS
    } else {
        crate::ctc::KTP_CHARSET
    };
    let text = spelling::beam_search(
        &logits.logp,
        logits.t,
        logits.c,
        charset,
        allowed,
        if key == "name" {
            &spelling::PERSON_NAME_SPELLING
        } else {
            &REGISTER_SPELLING
        },
        prior,
    )?;
    let mut text = text.trim().to_owned();
    if key != "name" {
        text = letters_only(&greedy.text, &text);
    }
    if text == greedy.text || text.is_empty() {
        return Ok(greedy);
    }
    let p = probability(logits, charset, &text)?;
    Ok(crate::ctc::Decoded::chosen(text, p))
}

/// A name line read by several recognisers (or one recogniser on several cuts of the line)
/// together: the joint beam search's reading ([`spelling::beam_search_joint`], with the spelling
/// prior), at the first reading's own probability of it, or `mine` when the search finds nothing
/// else. Readings of another length than the first (another crop width) are left out.
pub(super) fn read_jointly(
    readings: &[&crate::recognizer::LineLogits],
    charset: &crate::ctc::Charset,
    mine: crate::ctc::Decoded,
    prior: SpellingPrior,
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    let Some(ours) = readings.first() else {
        return Ok(mine);
    };
    let models: Vec<&[f32]> = readings
        .iter()
        .filter(|r| r.t == ours.t && r.c == ours.c)
        .take(spelling::MAX_MODELS)
        .map(|r| r.logp.as_slice())
        .collect();
    if models.len() < 2 {
        return Ok(mine);
    }
    let text = spelling::beam_search_joint(
        &models,
        ours.t,
        ours.c,
        charset,
        crate::ctc::NAME_CHARS,
        &spelling::PERSON_NAME_SPELLING,
        prior,
    )?;
    let text = text.trim();
    if text == mine.text || text.is_empty() {
        return Ok(mine);
    }
    let p = probability(ours, charset, text)?;
    Ok(crate::ctc::Decoded::chosen(text.to_owned(), p))
}

/// A line whose every character the recogniser read at least this surely is not searched: the
/// prior (at most about 2.5 nats at the chosen weight) cannot outweigh a character read at 0.97
/// against the rest (3.5 nats).
pub(super) const SPELLING_SURE_AT: f32 = 0.97;

/// The spelling prior's reading `spelled`, but with `greedy`'s word wherever either has a digit:
/// the prior judges letters, and "B5" against "85" is not a question of spelling. Readings with a
/// different number of words keep `greedy`.
fn letters_only(greedy: &str, spelled: &str) -> String {
    let (g, s): (Vec<&str>, Vec<&str>) =
        (greedy.split(' ').collect(), spelled.split(' ').collect());
    if g.len() != s.len() {
        return greedy.to_owned();
    }
    let digit = |w: &str| w.chars().any(|c| c.is_ascii_digit());
    g.iter()
        .zip(&s)
        .map(|(g, s)| if digit(g) || digit(s) { *g } else { *s })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a listed value is worth scoring against a line read as `free`: within half its length
/// (at least two edits) of the reading. The others' share of the probability is negligible, and
/// the forward pass over a long list is not.
fn near_reading(value: &str, free: &str) -> bool {
    fields::edit_distance(value, free) <= (value.chars().count() / 2).max(2)
}

/// The most a village that is none of its district's villages in the region table keeps (a village
/// renamed or created after the table, or a misread the register could not correct), and one of
/// two villages of the district a letter apart: below the 0.9 at which a field counts as sure, so
/// the operator checks it.
const UNREGISTERED_VILLAGE_AT_MOST: f32 = 0.85;

/// How much likelier a village is to be in the register than not, a priori: a registered village
/// is taken over a free reading up to this many times likelier by the model (a letter the model
/// leans the wrong way on). Its confidence stays the model's own probability of it.
const REGISTER_PRIOR: f64 = 10.0;

/// The village as one of the printed district's villages (Kemendagri's register, compiled in).
/// The likeliest village by the model is taken unless the free reading is more than
/// [`REGISTER_PRIOR`] times likelier; its confidence is the model's probability of its spelling
/// (the CTC forward sum, as for the lines of [`POSTERIOR_LINES`]): the register chooses the
/// spelling, it does not make a blurred line sure. The free reading stands, doubted, when no
/// village of the district comes close. Nothing changes when the district is not known (not read,
/// or not a district of the card's regency).
pub(super) fn registered_village(
    reading: &mut KtpReading,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    read: &str,
) -> Result<(), crate::ctc::CtcError> {
    let Some(code) = reading.district_code else {
        return Ok(());
    };
    let field = &mut reading.fields.village;
    let free = read.trim();
    if field.value.is_empty() || free.is_empty() {
        return Ok(());
    }
    let ll = |text: &str| logits.log_likelihood(charset, text);
    // A district has 10 villages at the median and 108 at most; only those near the reading are
    // scored ([`near_reading`]).
    let mut near: Vec<(String, f64)> = Vec::new();
    for v in crdt_schema::region::villages_of(code).map(str::to_uppercase) {
        if near_reading(&v, free)
            && let Some(l) = ll(&v)?
        {
            near.push((v, l));
        }
    }
    let free_ll = ll(free)?.unwrap_or(f64::NEG_INFINITY);
    let Some((best, best_ll)) = near
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, l)| l + REGISTER_PRIOR.ln() >= free_ll)
    else {
        field.confidence = field.confidence.min(UNREGISTERED_VILLAGE_AT_MOST);
        return Ok(());
    };
    // Villages one letter apart ("WIRALAGA I" and "WIRALAGA II"): a stroke lost to blur makes one
    // the other with the model sure of it, so the operator checks.
    let sibling = near
        .iter()
        .any(|(v, _)| v != best && fields::edit_distance(v, best) <= 1);
    let p = best_ll.exp() as f32;
    field.value = best.clone();
    field.confidence = if sibling {
        p.min(UNREGISTERED_VILLAGE_AT_MOST)
    } else {
        p
    };
    Ok(())
}

/// A line from a closed (or, for occupations, a common) vocabulary: the entry the model finds
/// likeliest, with its share of the probability of all entries and of the free reading as its
/// confidence. The free reading stands when it is likelier than every entry (a misprint or an
/// occupation not on the list; the fields step snaps or warns as for any text).
fn closed(
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
    greedy: crate::ctc::Decoded,
    vocab: &[&str],
) -> Result<crate::ctc::Decoded, crate::ctc::CtcError> {
    let free = greedy.text.trim();
    // Only entries near the free reading are scored ([`near_reading`]). (A short list is scored
    // whole: a line whose greedy reading lost most letters may still be likeliest one of them.)
    let mut near: Vec<&str> = vocab
        .iter()
        .copied()
        .filter(|v| near_reading(v, free))
        .collect();
    if near.is_empty() {
        if vocab.len() > 12 {
            return Ok(greedy);
        }
        near = vocab.to_vec();
    }
    match crate::ctc::choose(&logits.logp, logits.t, logits.c, charset, &near, free)? {
        Some((i, p)) => Ok(crate::ctc::Decoded::chosen(near[i].to_owned(), p)),
        None => Ok(greedy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::RawLine;
    use crate::reader::test_logits::spelled;

    #[test]
    fn a_blood_type_is_one_of_the_values_as_sure_as_the_model_is_of_it() {
        let charset = crate::recognizer::Recognizer::shipped()
            .unwrap()
            .charset()
            .clone();
        // A B the model takes for an 8 (0.6) before a B (0.4): greedy reads "8", no blood type.
        let logits = spelled(&charset, "8", Some((0, 'B', 0.4)));
        assert_eq!(logits.greedy(&charset).unwrap().text, "8");
        let read = decode_line("blood_type", &logits, &charset).unwrap();
        assert_eq!(read.text, "B");
        // As sure as the model is of a B on that line, not of a B among A, B, AB, O and -.
        assert!((read.confidence - 0.4).abs() < 0.01, "{}", read.confidence);
        // A clear AB stays sure.
        let read = decode_line("blood_type", &spelled(&charset, "AB", None), &charset).unwrap();
        assert_eq!(read.text, "AB");
        assert!(read.confidence > 0.99, "{}", read.confidence);
        // A dash is no surer than its greedy reading: a wiped letter may leave one. Here its
        // greedy product (the dash, then the least sure blank, 0.7) is below the 0.9 of a sure field
        // though every alignment of "-" together is more.
        let mut dash = spelled(&charset, "-", None);
        let c = dash.c;
        dash.logp[c] = 0.7f32.ln();
        dash.logp[c + charset.class_of('-').unwrap()] = 0.3f32.ln();
        let read = decode_line("blood_type", &dash, &charset).unwrap();
        assert_eq!(read.text, "-");
        assert!(read.confidence < 0.9, "{}", read.confidence);
    }

    #[test]
    fn a_first_word_read_nearly_as_a_title_is_the_title() {
        let charset = crate::recognizer::Recognizer::shipped()
            .unwrap()
            .charset()
            .clone();
        let read = |logits: &crate::recognizer::LineLogits| {
            titled(logits, &charset, logits.greedy(&charset).unwrap()).unwrap()
        };
        // HJ.'s J taken for an I (0.7) before a J (0.3): HJ. at 0.3 of the line, HI. at 0.7.
        let logits = spelled(&charset, "HI. SITI", Some((1, 'J', 0.3)));
        let hj = read(&logits);
        assert_eq!(hj.text, "HJ. SITI");
        // At the recogniser's own probability of it: not sure.
        assert!((hj.confidence - 0.3).abs() < 0.01, "{}", hj.confidence);
        // The same letter with J at 0.1 (HJ. 7 times less likely than HI.): the reading stands.
        let logits = spelled(&charset, "HI. SITI", Some((1, 'J', 0.1)));
        assert_eq!(read(&logits).text, "HI. SITI");
        // A first word read clearly keeps its letters, whatever title is near it.
        for name in ["IRA SUSANTI", "DRA SUSANTI", "HI SUSANTI"] {
            assert_eq!(read(&spelled(&charset, name, None)).text, name);
        }
        // A name of one word is no title's.
        let logits = spelled(&charset, "HI.", Some((1, 'J', 0.4)));
        assert_eq!(read(&logits).text, "HI.");
        // An initial is a word of its own: "A." stays though H. is as likely.
        let logits = spelled(&charset, "A. RAHMAN", Some((0, 'H', 0.45)));
        assert_eq!(read(&logits).text, "A. RAHMAN");
    }

    #[test]
    fn a_haj_title_or_a_balinese_name_s_first_word_is_the_one_of_the_card_s_sex() {
        let charset = crate::ctc::Charset::ktp();
        // A card with this NIK (born 09-03-1982: a woman's day is 49), printed sex and name.
        let card = |nik: &str, sex: &str, name: &str| {
            let lines: Vec<(&str, RawLine)> = [
                ("nik", nik),
                ("name", name),
                ("birth", "MALANG, 09-03-1982"),
                ("sex", sex),
            ]
            .into_iter()
            .map(|(k, v)| (k, RawLine::new(v, 0.95)))
            .collect();
            fields::read_fields(lines.iter().map(|(k, l)| (*k, l)))
        };
        let woman = |name: &str| card("3507224903820003", "PEREMPUAN", name);
        let man = |name: &str| card("3507220903820003", "LAKI-LAKI", name);
        let titled_for = |mut reading: KtpReading, logits| {
            first_word_for_sex(&mut reading, &logits, &charset).unwrap();
            reading.fields.name
        };
        // A woman's "H.", the J lost without a trace: her HJ., for the operator to check.
        let name = titled_for(
            woman("H. SITI AMINAH"),
            spelled(&charset, "H. SITI AMINAH", None),
        );
        assert_eq!(name.value, "HJ. SITI AMINAH");
        assert!(name.confidence < 0.9, "{}", name.confidence);
        // A man's "H." is his.
        let name = titled_for(man("H. AHMAD"), spelled(&charset, "H. AHMAD", None));
        assert_eq!(name.value, "H. AHMAD");
        assert!(name.confidence > 0.9, "{}", name.confidence);
        // A man's "HJ.": his H. or HM., doubted.
        let name = titled_for(man("HJ. AHMAD"), spelled(&charset, "HJ. AHMAD", None));
        assert!(
            ["H. AHMAD", "HM. AHMAD"].contains(&name.value.as_str()),
            "{}",
            name.value
        );
        assert!(name.confidence < 0.9);
        // A woman's "HE.", its E read at 0.9 over a J at 0.1: her HJ.; with the J at 0.01 the
        // line does not allow it (1 / 20 as likely at the least), and the reading stands.
        let logits = spelled(&charset, "HE. SITI", Some((1, 'J', 0.1)));
        assert_eq!(titled_for(woman("HE. SITI"), logits).value, "HJ. SITI");
        let logits = spelled(&charset, "HE. SITI", Some((1, 'J', 0.01)));
        assert_eq!(titled_for(woman("HE. SITI"), logits).value, "HE. SITI");
        // Her other first words are hers: "HANI" is no title, "A." an initial.
        for name in ["HANI WULANDARI", "A. SITI"] {
            assert_eq!(
                titled_for(woman(name), spelled(&charset, name, None)).value,
                name
            );
        }
        // After a Balinese birth-order name, a woman's name starts with NI, a man's with I.
        let name = titled_for(
            woman("I WAYAN SARI"),
            spelled(&charset, "I WAYAN SARI", None),
        );
        assert_eq!(name.value, "NI WAYAN SARI");
        assert!(name.confidence < 0.9);
        let name = titled_for(
            man("NI KETUT BUDI"),
            spelled(&charset, "NI KETUT BUDI", None),
        );
        assert_eq!(name.value, "I KETUT BUDI");
        let logits = spelled(&charset, "NE LUH SARI", Some((1, 'I', 0.1)));
        assert_eq!(
            titled_for(woman("NE LUH SARI"), logits).value,
            "NI LUH SARI"
        );
        for (reading, name) in [
            (man("I KETUT BUDI"), "I KETUT BUDI"),
            (woman("NI LUH SARI"), "NI LUH SARI"),
            // A woman of the Gusti caste is "I GUSTI AYU"; an I before another word is hers too.
            (woman("I GUSTI AYU SARI"), "I GUSTI AYU SARI"),
            (woman("I SARI"), "I SARI"),
        ] {
            let name_read = titled_for(reading, spelled(&charset, name, None));
            assert_eq!(name_read.value, name);
        }
        // A NIK that disagrees with the printed sex says nothing of which it is.
        let reading = card("3507220903820003", "PEREMPUAN", "H. SITI");
        assert_eq!(
            titled_for(reading, spelled(&charset, "H. SITI", None)).value,
            "H. SITI"
        );
    }

    #[test]
    fn the_village_is_one_of_the_printed_districts_or_doubted() {
        let charset = crate::ctc::Charset::ktp();
        // The fields of a card with these header, NIK, village and district lines.
        let fields_of = |[province, regency, nik, village, district]: [&str; 5]| {
            let lines: Vec<(&str, RawLine)> = [
                ("province", province),
                ("regency", regency),
                ("nik", nik),
                ("village", village),
                ("district", district),
            ]
            .into_iter()
            .map(|(k, v)| (k, RawLine::new(v, 0.8)))
            .collect();
            fields::read_fields(lines.iter().map(|(k, l)| (*k, l)))
        };
        // Kabupaten Malang, Dau (350722): its villages include Sumbersekar and Selorejo.
        let card = |village: &str| {
            fields_of([
                "PROVINSI JAWA TIMUR",
                "KABUPATEN MALANG",
                "3507224903820003",
                village,
                "DAU",
            ])
        };
        // Read clearly: the register's own spelling, sure.
        let mut reading = card("SUMBERSEKAR");
        assert_eq!(reading.district_code, Some("350722"));
        let logits = spelled(&charset, "SUMBERSEKAR", None);
        registered_village(&mut reading, &logits, &charset, "SUMBERSEKAR").unwrap();
        assert_eq!(reading.fields.village.value, "SUMBERSEKAR");
        assert!(reading.fields.village.confidence > 0.99);
        // One letter the model leans the wrong way on (F at 0.55, E at 0.45): the register's
        // spelling, at the model's probability of it (not sure).
        let mut reading = card("SUMBFRSEKAR");
        let logits = spelled(&charset, "SUMBFRSEKAR", Some((4, 'E', 0.45)));
        registered_village(&mut reading, &logits, &charset, "SUMBFRSEKAR").unwrap();
        assert_eq!(reading.fields.village.value, "SUMBERSEKAR");
        let p = reading.fields.village.confidence;
        assert!((p - 0.45).abs() < 0.01, "{p}");
        // A clear reading of a name the district does not have stands, for the operator to check.
        let mut reading = card("SUMBERSARI");
        let logits = spelled(&charset, "SUMBERSARI", None);
        registered_village(&mut reading, &logits, &charset, "SUMBERSARI").unwrap();
        assert_eq!(reading.fields.village.value, "SUMBERSARI");
        assert!(reading.fields.village.confidence <= UNREGISTERED_VILLAGE_AT_MOST);
        // Kabupaten Mesuji, Mesuji (181101) has WIRALAGA I and WIRALAGA II: a clear reading of
        // one of them is still for the operator to check.
        let mut reading = fields_of([
            "PROVINSI LAMPUNG",
            "KABUPATEN MESUJI",
            "1811013009650969",
            "WIRALAGA I",
            "MESUJI",
        ]);
        assert_eq!(reading.district_code, Some("181101"));
        let logits = spelled(&charset, "WIRALAGA I", None);
        registered_village(&mut reading, &logits, &charset, "WIRALAGA I").unwrap();
        assert_eq!(reading.fields.village.value, "WIRALAGA I");
        assert!(reading.fields.village.confidence <= UNREGISTERED_VILLAGE_AT_MOST);
        // No district known (a district of another regency): nothing changes.
        let mut reading = card("SUMBFRSEKAR");
        reading.district_code = None;
        let before = reading.clone();
        let logits = spelled(&charset, "SUMBFRSEKAR", Some((4, 'E', 0.45)));
        registered_village(&mut reading, &logits, &charset, "SUMBFRSEKAR").unwrap();
        assert_eq!(reading, before);
    }

    #[test]
    fn a_doubtful_letter_is_spelled_as_the_register_spells_and_stays_unsure() {
        let charset = crate::ctc::Charset::ktp();
        let read = |logits: &crate::recognizer::LineLogits| {
            let greedy = decode_line("name", logits, &charset).unwrap();
            read_with_spelling("name", logits, &charset, greedy, NAME_SPELLING).unwrap()
        };
        // The last letter is V at 0.55 or U at 0.45: the register's spelling decides, and the
        // reading keeps the recogniser's own probability of it.
        let doubtful = spelled(&charset, "SUKAMAJV", Some((7, 'U', 0.45)));
        let r = read(&doubtful);
        assert_eq!(r.text, "SUKAMAJU");
        assert!((r.confidence - 0.45).abs() < 0.01, "{}", r.confidence);
        // Read clearly, the same spelling stands, at the greedy reading's confidence.
        let clear = spelled(&charset, "SUKAMAJV", None);
        let r = read(&clear);
        assert_eq!(r.text, "SUKAMAJV");
        assert!(r.confidence > 0.99);
        // Without the prior, the doubtful line is read as the recogniser leans.
        let greedy = decode_line("name", &doubtful, &charset).unwrap();
        let off = SpellingPrior {
            weight: 0.0,
            bonus: 0.0,
            word_bonus: 0.0,
            ..NAME_SPELLING
        };
        let r = read_with_spelling("name", &doubtful, &charset, greedy, off).unwrap();
        assert_eq!(r.text, "SUKAMAJV");
    }

    #[test]
    fn a_second_recogniser_settles_a_doubtful_name_only_when_it_is_surer() {
        let charset = crate::ctc::Charset::ktp();
        // The likelihoods alone: no spelling prior.
        let plain = SpellingPrior {
            weight: 0.0,
            bonus: 0.0,
            word_bonus: 0.0,
            beam: 12,
        };
        let several = |readings: &[&crate::recognizer::LineLogits]| {
            let mine = decode_line("name", readings[0], &charset).unwrap();
            read_jointly(readings, &charset, mine, plain).unwrap()
        };
        let joint = |ours: &crate::recognizer::LineLogits, other| several(&[ours, other]);
        // Ours leans to LAJA (J 0.55, I 0.45); the other reads LAIA with I at 0.9: together
        // LAIA is likelier (0.45 x 0.9 against 0.55 x 0.1), at our own probability of it.
        let ours = spelled(&charset, "LAJA", Some((2, 'I', 0.45)));
        let other = spelled(&charset, "LAIA", Some((2, 'J', 0.1)));
        let r = joint(&ours, &other);
        assert_eq!(r.text, "LAIA");
        assert!((r.confidence - 0.45).abs() < 0.01, "{}", r.confidence);
        // The other's peaks a frame later (a blank first): its alignments are its own, and the
        // reading is the same.
        let mut late = other.clone();
        let mut first = vec![(1e-6f32).ln(); late.c];
        first[0] = 0.0;
        late.logp.splice(0..0, first);
        late.logp.truncate(late.t * late.c);
        assert_eq!(joint(&ours, &late).text, "LAIA");
        // With the other barely leaning to LAIA (I 0.52, J 0.48), LAJA stays likelier together
        // (0.55 x 0.48 against 0.45 x 0.52) and ours stands.
        let weak = spelled(&charset, "LAIA", Some((2, 'J', 0.48)));
        assert_eq!(joint(&ours, &weak).text, "LAJA");
        // Agreeing readings are kept as read, at our probability.
        let same = spelled(&charset, "LAJA", None);
        let r = joint(&ours, &same);
        assert_eq!(r.text, "LAJA");
        assert!((r.confidence - 0.55).abs() < 0.01, "{}", r.confidence);
        // Readings of different lengths (another crop width) are not searched together.
        let shorter = |l: &crate::recognizer::LineLogits| crate::recognizer::LineLogits {
            t: l.t - 1,
            c: l.c,
            logp: l.logp[l.c..].to_vec(),
        };
        assert_eq!(joint(&ours, &shorter(&same)).text, "LAJA");
        // Several readings (the name model's three cuts): two more cuts barely leaning to LAIA,
        // as `weak` does, tip it (0.45 x 0.52^3 against 0.55 x 0.48^3), at our probability.
        let r = several(&[&ours, &weak, &weak, &weak]);
        assert_eq!(r.text, "LAIA");
        assert!((r.confidence - 0.45).abs() < 0.01, "{}", r.confidence);
        // A cut of another width is not one of them.
        let weak_short = shorter(&weak);
        assert_eq!(
            several(&[&ours, &weak, &weak_short, &weak_short]).text,
            "LAJA"
        );
        // Nothing to weigh a reading against: ours stands. More readings than the search takes:
        // the first four are weighed (all six would leave LAJA likelier).
        assert_eq!(several(&[&ours]).text, "LAJA");
        assert_eq!(
            several(&[&ours, &weak, &weak, &weak, &ours, &ours]).text,
            "LAIA"
        );
    }

    #[test]
    fn an_address_takes_the_spelling_only_of_its_words_without_digits() {
        // The prior's reading changes a letter in a word and a digit in another: only the first
        // is taken.
        assert_eq!(
            letters_only("JL. MERDIKA BLOK B5 NO. 12", "JL. MERDEKA BLOK 85 NO. 12"),
            "JL. MERDEKA BLOK B5 NO. 12"
        );
        // A reading with another number of words is not matched word for word: the greedy stands.
        assert_eq!(letters_only("DUSUN KRAJAN", "DUSUNKRAJAN"), "DUSUN KRAJAN");
        assert_eq!(letters_only("", ""), "");
    }

    #[test]
    fn a_template_line_is_as_sure_as_its_text_a_free_line_as_its_least_sure_blank() {
        let charset = crate::ctc::Charset::ktp();
        let c = charset.num_classes();
        // "018/010" with every letter certain and each following blank frame a quarter the
        // letter's trailing edge (a slightly blurred print): every alignment spells the text.
        let text = "018/010";
        let mut logp = Vec::new();
        for ch in text.chars() {
            let k = charset.class_of(ch).unwrap();
            let mut letter = vec![(1e-6f32).ln(); c];
            letter[k] = 0.0;
            let mut edge = vec![(1e-6f32).ln(); c];
            edge[crate::ctc::BLANK] = 0.75f32.ln();
            edge[k] = 0.25f32.ln();
            logp.extend(letter);
            logp.extend(edge);
        }
        let logits = crate::recognizer::LineLogits {
            t: logp.len() / c,
            c,
            logp,
        };
        let templated = decode_line("rt_rw", &logits, &charset).unwrap();
        assert_eq!(templated.text, text);
        let sure = line_confidence("rt_rw", &templated, &logits, &charset);
        assert!(sure > 0.99, "{sure}");
        // The same frames as a free-text line keep the greedy product: seven blanks at 0.75.
        let free = decode_line("village", &logits, &charset).unwrap();
        let doubted = line_confidence("village", &free, &logits, &charset);
        assert!((doubted - 0.75f32.powi(7)).abs() < 0.01, "{doubted}");
    }

    #[test]
    fn an_address_line_is_as_sure_as_its_text_s_probability_squared() {
        let charset = crate::ctc::Charset::ktp();
        // "GG. 12" with its first letter 0.9 itself and 0.1 an "X": the text's probability is 0.9.
        let text = "GG. 12";
        let logits = spelled(&charset, text, Some((0, 'X', 0.1)));
        let read = decode_line("address", &logits, &charset).unwrap();
        assert_eq!(read.text, text);
        let name = line_confidence("name", &read, &logits, &charset);
        let address = line_confidence("address", &read, &logits, &charset);
        assert!((name - 0.9).abs() < 0.01, "{name}");
        assert!((address - 0.81).abs() < 0.01, "{address}");
    }
}
