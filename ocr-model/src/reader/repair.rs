//! Other readings of a NIK and a birth date that disagree: the likeliest one- and two-digit
//! changes, for the reader to try until the NIK agrees with the printed date, sex and region.

use crate::ctc::NIK_CHARS;
use crate::fields::KtpReading;

use super::lines::DATE_TEMPLATE;

/// Whether the reading carries a warning about the NIK (invalid, or disagreeing with the card).
pub(super) fn nik_disputed(r: &KtpReading) -> bool {
    r.warnings.iter().any(|w| w.code().starts_with("nik"))
}

/// Readings of the NIK that differ from the best one in one or two digits, likeliest first, with
/// their confidences: at each digit's timestep the runner-up digit, ranked by how much probability
/// it loses; the eight best single changes and the pairs of the four best.
pub(super) fn nik_alternatives(
    best: &crate::ctc::Decoded,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> Vec<(String, f32)> {
    let chars: Vec<char> = best.text.chars().collect();
    if chars.len() != 16 || best.frames.len() != 16 {
        return Vec::new();
    }
    // (position, digit, probability ratio to the chosen digit)
    let mut singles: Vec<(usize, char, f32)> = Vec::new();
    for (j, &f) in best.frames.iter().enumerate() {
        if let Some((d, ratio)) = runner_up_digit(logits, f, chars[j], charset) {
            singles.push((j, d, ratio));
        }
    }
    singles.sort_by(|a, b| b.2.total_cmp(&a.2));
    let with = |changes: &[(usize, char, f32)]| {
        let mut c = chars.clone();
        let mut conf = best.confidence;
        for &(j, d, r) in changes {
            c[j] = d;
            conf *= r.min(1.0);
        }
        (c.into_iter().collect::<String>(), conf)
    };
    let mut out: Vec<(String, f32)> = singles.iter().take(8).map(|s| with(&[*s])).collect();
    let top: Vec<_> = singles.iter().take(4).copied().collect();
    for a in 0..top.len() {
        for b in a + 1..top.len() {
            out.push(with(&[top[a], top[b]]));
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// The likeliest other digit at timestep `frame` than the `chosen` character, and its probability as a
/// fraction of the chosen one's.
fn runner_up_digit(
    logits: &crate::recognizer::LineLogits,
    frame: usize,
    chosen: char,
    charset: &crate::ctc::Charset,
) -> Option<(char, f32)> {
    let row = logits.logp.get(frame * logits.c..(frame + 1) * logits.c)?;
    let lp_chosen = charset
        .class_of(chosen)
        .map_or(f32::NEG_INFINITY, |k| row[k]);
    NIK_CHARS
        .chars()
        .filter(|&d| d != chosen)
        .filter_map(|d| charset.class_of(d).map(|k| (d, row[k])))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(d, lp)| (d, (lp - lp_chosen).exp()))
}

/// Readings of the birth line whose printed date differs in one digit, likeliest first, with their
/// confidences: the date after the comma is decoded again by its template to know each digit's
/// timestep, and each digit's runner-up is ranked by how much probability it loses.
pub(super) fn birth_date_alternatives(
    best: &crate::ctc::Decoded,
    logits: &crate::recognizer::LineLogits,
    charset: &crate::ctc::Charset,
) -> Vec<(String, f32)> {
    let Some(comma) = best.text.rfind(',') else {
        return Vec::new();
    };
    let mut template = vec![" "];
    template.extend(DATE_TEMPLATE);
    let Some(tail) = logits.after_last(charset, ',') else {
        return Vec::new();
    };
    let Ok(Some(date)) = tail.template(charset, &template) else {
        return Vec::new();
    };
    let chars: Vec<char> = date.text.chars().collect();
    if chars.len() != template.len() || date.frames.len() != chars.len() {
        return Vec::new();
    }
    let head = &best.text[..=comma];
    let mut out = Vec::new();
    for (j, &f) in date.frames.iter().enumerate() {
        if !chars[j].is_ascii_digit() {
            continue;
        }
        if let Some((d, ratio)) = runner_up_digit(&tail, f, chars[j], charset) {
            let mut c = chars.clone();
            c[j] = d;
            let ratio = ratio.min(1.0);
            out.push((
                format!("{head}{}", c.into_iter().collect::<String>()),
                best.confidence * ratio,
            ));
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.truncate(6);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::lines::decode_line;
    use crate::reader::test_logits::spelled;

    #[test]
    fn a_doubtful_printed_digit_is_offered_as_an_alternative() {
        let charset = crate::recognizer::Recognizer::shipped()
            .unwrap()
            .charset()
            .clone();
        let text = "MALANG, 24-03-1967";
        // The year's last digit: read as 7, with 1 as a strong runner-up.
        let logits = spelled(&charset, text, Some((text.len() - 1, '1', 0.4)));
        let best = decode_line("birth", &logits, &charset).unwrap();
        assert_eq!(best.text, text);
        let alts = birth_date_alternatives(&best, &logits, &charset);
        assert_eq!(alts[0].0, "MALANG, 24-03-1961");
        let ratio = alts[0].1 / best.confidence;
        assert!((ratio - 0.4 / 0.6).abs() < 0.01, "{ratio}");
        // Only the date's digits are offered, never the place or the dashes.
        assert!(
            alts.iter()
                .all(|(t, _)| t.starts_with("MALANG, ") && t.len() == text.len())
        );
        // A line without a date has none.
        let plain = spelled(&charset, "MALANG", None);
        let best = decode_line("birth", &plain, &charset).unwrap();
        assert!(birth_date_alternatives(&best, &plain, &charset).is_empty());
    }
}
