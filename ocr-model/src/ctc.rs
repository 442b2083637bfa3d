//! CTC decoding of the line recogniser's output: the charset (class 0 = blank, class k =
//! `charset[k-1]`), greedy decoding of a `[T][C]` log-probability matrix with per-character and line
//! confidences, and a constrained greedy decoder for fields printed in digits only.
//!
//! # Confidences
//! A character's confidence is `exp(max log-prob)` at the first timestep of the run that emitted it,
//! exactly as `training/lines.py::greedy_decode` does, so calibration measured in training carries over.
//! The line confidence of greedy decoding is the **product** of the character confidences (`exp` of
//! their summed log-probabilities), times, for every run of blank frames (between characters and at
//! either end), the probability of its least sure blank: a character the model half saw but
//! dropped (a thin `I` in a blurred name) makes the line doubtful, and an empty line is only as
//! sure as its least sure blank. The product is chosen over the minimum because it is
//! the model's own estimate that every character is right (under per-frame independence), and it
//! falls when many characters are each a little doubtful, which the minimum ignores: a 16-digit NIK
//! with every digit at 0.95 is right only about 44 % of the time, not 95 %. The minimum is still
//! available as [`Decoded::min_char_confidence`] for pointing the operator at the weakest character.

/// The 45 characters of the shipped model, in class order (class 1 is the space).
pub const KTP_CHARSET: &str = " '(),-./0123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Class index of the CTC blank.
pub const BLANK: usize = 0;

/// Characters allowed in a NIK.
pub const NIK_CHARS: &str = "0123456789";
/// Characters allowed in a printed date (`DD-MM-YYYY`).
pub const DATE_CHARS: &str = "0123456789-";
/// Characters allowed in an RT/RW value (`018/010`).
pub const RT_RW_CHARS: &str = "0123456789/";
/// Characters a person's name is printed with: letters, the space, and the apostrophe, full stop,
/// comma and hyphen of names like MA'RUF, M. ARIF or titles. Never a digit.
pub const NAME_CHARS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ '.,-";

/// Why a matrix or charset cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CtcError {
    #[error("the log-probability slice holds {len} values, not {t} x {c}")]
    Shape { len: usize, t: usize, c: usize },
    #[error("the model has {c} classes but the charset needs {need} (blank + {chars})", need = .chars + 1)]
    Classes { c: usize, chars: usize },
    #[error("the charset is empty or repeats a character")]
    Charset,
    #[error("allowed character {0:?} is not in the charset")]
    NotInCharset(char),
    #[error("a joint search takes 1 to {max} recognisers' readings, not {0}", max = crate::spelling::MAX_MODELS)]
    Models(usize),
}

/// The recogniser's characters: class `k` (1-based) is `chars[k-1]`; class 0 is the blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charset {
    chars: Vec<char>,
}

impl Charset {
    /// The charset of the shipped model ([`KTP_CHARSET`]).
    pub fn ktp() -> Self {
        Charset {
            chars: KTP_CHARSET.chars().collect(),
        }
    }

    /// Builds a charset from characters in class order (class 1 first).
    pub fn new(chars: &str) -> Result<Self, CtcError> {
        let chars: Vec<char> = chars.chars().collect();
        let mut sorted = chars.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if chars.is_empty() || sorted.len() != chars.len() {
            return Err(CtcError::Charset);
        }
        Ok(Charset { chars })
    }

    /// Parses `charset.txt`: one character per line, in class order. A line holding a single space
    /// is the space; line endings (`\n` or `\r\n`) are not part of a character.
    pub fn from_charset_txt(text: &str) -> Result<Self, CtcError> {
        let mut s = String::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let mut it = line.chars();
            match (it.next(), it.next()) {
                (Some(ch), None) => s.push(ch),
                (None, _) => {}
                _ => return Err(CtcError::Charset),
            }
        }
        Self::new(&s)
    }

    /// Number of classes the model must output: the characters plus the blank.
    pub fn num_classes(&self) -> usize {
        self.chars.len() + 1
    }

    /// The character of class `k`, or `None` for the blank and out-of-range classes.
    pub fn char_of(&self, class: usize) -> Option<char> {
        class
            .checked_sub(1)
            .and_then(|i| self.chars.get(i).copied())
    }

    /// The class of a character, or `None` if the charset lacks it.
    pub fn class_of(&self, ch: char) -> Option<usize> {
        self.chars.iter().position(|&c| c == ch).map(|i| i + 1)
    }
}

/// A decoded line.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The text, one char per entry of `char_confidences`.
    pub text: String,
    /// `exp(log-prob)` of each emitted character at the first timestep of its run.
    pub char_confidences: Vec<f32>,
    /// Product of `char_confidences` (1.0 for an empty line).
    pub confidence: f32,
    /// The timestep that emitted each character (empty when not tracked).
    pub frames: Vec<usize>,
}

impl Decoded {
    /// A text chosen whole (among listed values, or by a prior) at probability `p`: each character
    /// carries `p`, and no frames are tracked.
    pub fn chosen(text: String, p: f32) -> Self {
        let n = text.chars().count();
        Decoded {
            text,
            char_confidences: vec![p; n],
            confidence: p,
            frames: Vec::new(),
        }
    }

    /// The weakest character's confidence (1.0 for an empty line).
    pub fn min_char_confidence(&self) -> f32 {
        self.char_confidences.iter().copied().fold(1.0, f32::min)
    }
}

/// Whether `logp` is `[t][c]` and `c` covers the charset.
pub(crate) fn check(logp: &[f32], t: usize, c: usize, charset: &Charset) -> Result<(), CtcError> {
    if t.checked_mul(c) != Some(logp.len()) {
        return Err(CtcError::Shape {
            len: logp.len(),
            t,
            c,
        });
    }
    if c < charset.num_classes() {
        return Err(CtcError::Classes {
            c,
            chars: charset.chars.len(),
        });
    }
    Ok(())
}

/// Greedy decoding: best class per timestep, merge repeats, drop blanks.
///
/// `logp` is row-major `[t][c]` log-softmax output. Classes beyond the charset (a model with more
/// outputs than characters) are treated as blank. NaN entries never win the argmax.
pub fn greedy(logp: &[f32], t: usize, c: usize, charset: &Charset) -> Result<Decoded, CtcError> {
    check(logp, t, c, charset)?;
    let all: Vec<usize> = (0..charset.num_classes()).collect();
    Ok(decode_with(logp, c, charset, &all, false))
}

/// Greedy decoding that never emits a character outside `allowed`: at each timestep the argmax
/// over the blank and the allowed classes. Unlike [`greedy_constrained`], each character keeps the
/// model's own probability, not renormalised: where the model saw a digit in a name, the letter
/// put in its place is as doubtful as the model's reading was.
pub fn greedy_restricted(
    logp: &[f32],
    t: usize,
    c: usize,
    charset: &Charset,
    allowed: &str,
) -> Result<Decoded, CtcError> {
    check(logp, t, c, charset)?;
    Ok(decode_with(
        logp,
        c,
        charset,
        &allowed_classes(charset, allowed)?,
        false,
    ))
}

/// Greedy decoding restricted to the blank and the `allowed` characters.
///
/// At each timestep the argmax is taken over the blank and the allowed classes only, so a NIK frame
/// the model reads as `O` (or `I`) but also gives weight to `0` (or `1`) comes out as the digit.
/// Each character's confidence is its probability renormalised over the allowed set (blank
/// included): the model's belief in that character given that the field holds only those
/// characters. When the model puts almost all its mass on letters, the allowed classes share a
/// small remainder and no character comes out confident.
pub fn greedy_constrained(
    logp: &[f32],
    t: usize,
    c: usize,
    charset: &Charset,
    allowed: &str,
) -> Result<Decoded, CtcError> {
    check(logp, t, c, charset)?;
    Ok(decode_with(
        logp,
        c,
        charset,
        &allowed_classes(charset, allowed)?,
        true,
    ))
}

/// The blank and the classes of `allowed`, each once.
fn allowed_classes(charset: &Charset, allowed: &str) -> Result<Vec<usize>, CtcError> {
    let mut classes = vec![BLANK];
    for ch in allowed.chars() {
        let k = charset.class_of(ch).ok_or(CtcError::NotInCharset(ch))?;
        if !classes.contains(&k) {
            classes.push(k);
        }
    }
    Ok(classes)
}

fn decode_with(
    logp: &[f32],
    c: usize,
    charset: &Charset,
    classes: &[usize],
    renormalise: bool,
) -> Decoded {
    let mut text = String::new();
    let mut confs = Vec::new();
    let mut sum = 0.0f64;
    let mut prev = BLANK;
    let mut frames = Vec::new();
    // The least sure blank frame of the current run of blanks (log-probability), and their sum
    // over the runs so far.
    let mut gap = 0.0f64;
    let mut gaps = 0.0f64;
    let lp_of = |row: &[f32], k: usize, lp: f32| -> f64 {
        if renormalise {
            let norm: f64 = classes.iter().map(|&j| f64::from(row[j]).exp()).sum();
            if norm > 0.0 {
                return f64::from(lp) - norm.ln();
            }
        }
        let _ = k;
        f64::from(lp)
    };
    for (f, row) in logp.chunks_exact(c.max(1)).enumerate() {
        let mut best = BLANK;
        let mut best_lp = f32::NEG_INFINITY;
        for &k in classes {
            let lp = row[k];
            if lp > best_lp {
                best = k;
                best_lp = lp;
            }
        }
        if best == BLANK {
            gap = gap.min(lp_of(row, BLANK, best_lp));
        } else if prev == BLANK {
            gaps += gap;
            gap = 0.0;
        }
        if best != BLANK
            && best != prev
            && let Some(ch) = charset.char_of(best)
        {
            let lp = lp_of(row, best, best_lp);
            text.push(ch);
            confs.push(lp.exp() as f32);
            frames.push(f);
            sum += lp;
        }
        prev = best;
    }
    gaps += gap;
    Decoded {
        text,
        char_confidences: confs,
        confidence: (sum + gaps).exp() as f32,
        frames,
    }
}

/// `ln P(text | line)` under the model: the CTC forward algorithm, summing the probability of
/// every alignment of `text` to the timesteps. `None` when a character is not in the charset or
/// the line has too few timesteps for the text.
pub fn log_likelihood(
    logp: &[f32],
    t: usize,
    c: usize,
    charset: &Charset,
    text: &str,
) -> Result<Option<f64>, CtcError> {
    check(logp, t, c, charset)?;
    let mut labels = Vec::with_capacity(text.len());
    for ch in text.chars() {
        match charset.class_of(ch) {
            Some(k) => labels.push(k),
            None => return Ok(None),
        }
    }
    // Extended labelling: blank, l1, blank, l2, ..., blank.
    let s_len = 2 * labels.len() + 1;
    let label = |s: usize| {
        if s.is_multiple_of(2) {
            BLANK
        } else {
            labels[s / 2]
        }
    };
    let repeats = labels.windows(2).filter(|w| w[0] == w[1]).count();
    if labels.len() + repeats > t {
        return Ok(None);
    }
    let add = |a: f64, b: f64| -> f64 {
        if a == f64::NEG_INFINITY {
            return b;
        }
        if b == f64::NEG_INFINITY {
            return a;
        }
        let m = a.max(b);
        m + ((a - m).exp() + (b - m).exp()).ln()
    };
    let mut alpha = vec![f64::NEG_INFINITY; s_len];
    let mut next = vec![f64::NEG_INFINITY; s_len];
    for (f, row) in logp.chunks_exact(c.max(1)).enumerate() {
        for s in 0..s_len {
            let mut a = if f == 0 {
                if s <= 1 { 0.0 } else { f64::NEG_INFINITY }
            } else {
                let mut a = alpha[s];
                if s >= 1 {
                    a = add(a, alpha[s - 1]);
                }
                if s >= 2 && label(s) != BLANK && label(s) != label(s - 2) {
                    a = add(a, alpha[s - 2]);
                }
                a
            };
            if a != f64::NEG_INFINITY {
                a += f64::from(row[label(s)]);
            }
            next[s] = a;
        }
        std::mem::swap(&mut alpha, &mut next);
    }
    let end = if s_len >= 2 {
        add(alpha[s_len - 1], alpha[s_len - 2])
    } else {
        alpha[s_len - 1]
    };
    Ok((end != f64::NEG_INFINITY && t > 0).then_some(end))
}

/// Which of `candidates` the line holds, by the model: the likeliest candidate and its share of
/// the probability of every candidate plus the `free` reading (the greedy text, when it is not a
/// candidate itself), so a line that reads as something else entirely does not confirm any
/// candidate. `None` when the free reading is likelier than every candidate.
pub fn choose(
    logp: &[f32],
    t: usize,
    c: usize,
    charset: &Charset,
    candidates: &[&str],
    free: &str,
) -> Result<Option<(usize, f32)>, CtcError> {
    let mut lls = Vec::with_capacity(candidates.len() + 1);
    for cand in candidates {
        lls.push(log_likelihood(logp, t, c, charset, cand)?);
    }
    let free_ll = if candidates.contains(&free) {
        None
    } else {
        log_likelihood(logp, t, c, charset, free)?
    };
    let Some((best, best_ll)) = lls
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.map(|l| (i, l)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Ok(None);
    };
    if free_ll.is_some_and(|f| f > best_ll) {
        return Ok(None);
    }
    let total: f64 = lls
        .iter()
        .flatten()
        .chain(free_ll.iter())
        .map(|l| (l - best_ll).exp())
        .sum();
    Ok(Some((best, (1.0 / total) as f32)))
}

/// The most probable CTC path whose labelling fits `template`: exactly one character per entry,
/// each from that entry's set (for a NIK, sixteen digit sets). `None` when the line has fewer
/// timesteps than the template needs.
///
/// Viterbi over (characters emitted, class of the current frame): a frame repeats the current
/// class, goes to blank, or emits the next character (a repeat of the same character needs a blank
/// between, as in CTC). A reading with an extra or a missing digit becomes the best reading of the
/// right length. Character confidences are renormalised over the blank and every class the
/// template allows, as in [`greedy_constrained`].
pub fn best_path_template(
    logp: &[f32],
    t: usize,
    c: usize,
    charset: &Charset,
    template: &[&str],
) -> Result<Option<Decoded>, CtcError> {
    check(logp, t, c, charset)?;
    let n = template.len();
    let mut sets: Vec<Vec<usize>> = Vec::with_capacity(n);
    let mut union = vec![BLANK];
    for chars in template {
        let mut set = Vec::new();
        for ch in chars.chars() {
            let k = charset.class_of(ch).ok_or(CtcError::NotInCharset(ch))?;
            if !set.contains(&k) {
                set.push(k);
            }
            if !union.contains(&k) {
                union.push(k);
            }
        }
        sets.push(set);
    }
    if n == 0 || t < n {
        return Ok(None);
    }
    // State (j, s): j characters emitted; s = 0 means the frame is blank, s = i + 1 means the frame
    // is class sets[j - 1][i] (the last emitted character, possibly repeated).
    let width = |j: usize| if j == 0 { 1 } else { 1 + sets[j - 1].len() };
    let offsets: Vec<usize> = (0..=n)
        .scan(0, |acc, j| {
            let o = *acc;
            *acc += width(j);
            Some(o)
        })
        .collect();
    let states = offsets[n] + width(n);
    let class_of = |j: usize, s: usize| if s == 0 { BLANK } else { sets[j - 1][s - 1] };
    let neg = f64::NEG_INFINITY;
    let mut score = vec![neg; states];
    let mut back = vec![u32::MAX; states * t];
    let row = |f: usize| &logp[f * c..(f + 1) * c];
    score[offsets[0]] = f64::from(row(0)[BLANK]);
    for (i, &k) in sets[0].iter().enumerate() {
        score[offsets[1] + 1 + i] = f64::from(row(0)[k]);
    }
    let mut next = vec![neg; states];
    for f in 1..t {
        let r = row(f);
        next.fill(neg);
        for j in 0..=n {
            let base = offsets[j];
            // To blank: from blank or any class of the same j.
            let (mut best, mut arg) = (neg, u32::MAX);
            for s in 0..width(j) {
                if score[base + s] > best {
                    best = score[base + s];
                    arg = (base + s) as u32;
                }
            }
            if best > neg {
                next[base] = best + f64::from(r[BLANK]);
                back[f * states + base] = arg;
            }
            if j == 0 {
                continue;
            }
            let prev = offsets[j - 1];
            for s in 1..width(j) {
                let k = class_of(j, s);
                // Repeat the same frame class, or emit character j from state j - 1.
                let (mut best, mut arg) = (score[base + s], (base + s) as u32);
                for ps in 0..width(j - 1) {
                    if ps != 0 && class_of(j - 1, ps) == k {
                        continue; // the same character twice needs a blank between
                    }
                    if score[prev + ps] > best {
                        best = score[prev + ps];
                        arg = (prev + ps) as u32;
                    }
                }
                if best > neg {
                    next[base + s] = best + f64::from(r[k]);
                    back[f * states + base + s] = arg;
                }
            }
        }
        std::mem::swap(&mut score, &mut next);
    }
    let end = offsets[n];
    let Some((mut state, total)) = (0..width(n))
        .map(|s| (end + s, score[end + s]))
        .filter(|(_, v)| *v > neg)
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Ok(None);
    };
    let _ = total;
    // Walk back: the frame classes of the best path.
    let mut path = vec![0usize; t];
    for f in (0..t).rev() {
        path[f] = state;
        if f > 0 {
            state = back[f * states + state] as usize;
        }
    }
    let j_of = |st: usize| offsets.iter().rposition(|&o| o <= st).unwrap_or(0);
    let mut text = String::new();
    let mut confs = Vec::new();
    let mut sum = 0.0f64;
    let mut emitted = 0;
    let mut frames = Vec::new();
    for (f, &st) in path.iter().enumerate() {
        let j = j_of(st);
        if j > emitted {
            emitted = j;
            let k = class_of(j, st - offsets[j]);
            let r = row(f);
            let norm: f64 = union.iter().map(|&u| f64::from(r[u]).exp()).sum();
            let lp = f64::from(r[k]) - norm.max(1e-300).ln();
            text.push(charset.char_of(k).unwrap_or('?'));
            confs.push(lp.exp() as f32);
            frames.push(f);
            sum += lp;
        }
    }
    Ok(Some(Decoded {
        text,
        char_confidences: confs,
        confidence: sum.exp() as f32,
        frames,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: usize = 46;

    /// One timestep: probability `p` on `ch` (None = blank), the rest spread evenly.
    fn frame(
        cs: &Charset,
        main: (Option<char>, f32),
        second: Option<(Option<char>, f32)>,
    ) -> Vec<f32> {
        let class = |ch: Option<char>| ch.map_or(BLANK, |ch| cs.class_of(ch).expect("in charset"));
        let mut p = [0.0f32; C];
        p[class(main.0)] = main.1;
        if let Some((ch, q)) = second {
            p[class(ch)] += q;
        }
        let used: f32 = p.iter().sum();
        let rest = (1.0 - used).max(0.0) / (C as f32);
        p.iter().map(|&x| (x + rest).ln()).collect()
    }

    fn matrix(frames: &[Vec<f32>]) -> (Vec<f32>, usize) {
        (frames.concat(), frames.len())
    }

    #[test]
    fn charset_matches_the_training_readme() {
        let cs = Charset::ktp();
        assert_eq!(cs.num_classes(), 46);
        assert_eq!(cs.char_of(0), None);
        assert_eq!(cs.char_of(1), Some(' '));
        assert_eq!(cs.char_of(9), Some('0'));
        assert_eq!(cs.char_of(45), Some('Z'));
        assert_eq!(cs.char_of(46), None);
        assert_eq!(cs.class_of('A'), Some(20));
        let txt: String = KTP_CHARSET.chars().map(|c| format!("{c}\n")).collect();
        assert_eq!(Charset::from_charset_txt(&txt), Ok(cs.clone()));
        assert_eq!(
            Charset::from_charset_txt(&txt.replace('\n', "\r\n")),
            Ok(cs)
        );
        assert_eq!(Charset::new("AA"), Err(CtcError::Charset));
    }

    #[test]
    fn greedy_merges_repeats_and_drops_blanks() {
        let cs = Charset::ktp();
        let f = |ch: Option<char>, p: f32| frame(&cs, (ch, p), None);
        // "AA" needs a blank between the two A's; a run of B is one B.
        let (m, t) = matrix(&[
            f(None, 0.9),
            f(Some('A'), 0.8),
            f(Some('A'), 0.95),
            f(None, 0.9),
            f(Some('A'), 0.7),
            f(Some('B'), 0.9),
            f(Some('B'), 0.6),
            f(None, 0.99),
        ]);
        let d = greedy(&m, t, C, &cs).expect("decode");
        assert_eq!(d.text, "AAB");
        assert_eq!(d.char_confidences.len(), 3);
        // First timestep of each run, as lines.py does.
        let want = [0.8f32, 0.7, 0.9];
        for (got, want) in d.char_confidences.iter().zip(want) {
            assert!((got - want).abs() < 0.01, "{got} vs {want}");
        }
        // Times the least sure blank of each blank run: 0.9, 0.9 and 0.99.
        let product: f32 = want.iter().product::<f32>() * 0.9 * 0.9 * 0.99;
        assert!((d.confidence - product).abs() < 0.01, "{}", d.confidence);
        assert!((d.min_char_confidence() - 0.7).abs() < 0.01);
    }

    /// `ln P(text)` by brute force: every path of `t` frames that collapses to `text`.
    fn brute_force(m: &[f32], t: usize, cs: &Charset, text: &str) -> f64 {
        let classes = cs.num_classes();
        let mut total = 0.0f64;
        let mut path = vec![0usize; t];
        loop {
            let mut out = String::new();
            let mut prev = BLANK;
            for &k in &path {
                if k != BLANK && k != prev {
                    out.push(cs.char_of(k).unwrap());
                }
                prev = k;
            }
            if out == text {
                total += path
                    .iter()
                    .enumerate()
                    .map(|(f, &k)| f64::from(m[f * C + k]).exp())
                    .product::<f64>();
            }
            // Next path over the classes used in this test (blank, A, B).
            let mut i = 0;
            loop {
                if i == t {
                    return total.ln();
                }
                path[i] = match path[i] {
                    0 => cs.class_of('A').unwrap(),
                    k if k == cs.class_of('A').unwrap() => cs.class_of('B').unwrap(),
                    _ => 0,
                };
                if path[i] != 0 {
                    break;
                }
                i += 1;
            }
            let _ = classes;
        }
    }

    #[test]
    fn forward_likelihood_sums_every_alignment() {
        let cs = Charset::ktp();
        // Only blank, A and B carry probability, so the brute force over those three is exact.
        let f = |b: f32, a: f32| {
            let mut p = vec![f32::NEG_INFINITY; C];
            p[BLANK] = b.ln();
            p[cs.class_of('A').unwrap()] = a.ln();
            p[cs.class_of('B').unwrap()] = (1.0 - a - b).ln();
            p
        };
        let frames = [
            f(0.5, 0.3),
            f(0.2, 0.6),
            f(0.3, 0.3),
            f(0.6, 0.2),
            f(0.1, 0.5),
        ];
        let (m, t) = matrix(&frames);
        for text in ["", "A", "AB", "AA", "BA", "ABA", "AAB", "ABAB"] {
            let got = log_likelihood(&m, t, C, &cs, text).unwrap();
            let want = brute_force(&m, t, &cs, text);
            match got {
                Some(g) => assert!((g - want).abs() < 1e-4, "{text}: {g} vs {want}"),
                None => assert!(want == f64::NEG_INFINITY, "{text}: {want}"),
            }
        }
        assert_eq!(
            log_likelihood(&m, t, C, &cs, "AAAA").unwrap(),
            None,
            "too short"
        );
        assert_eq!(
            log_likelihood(&m, t, C, &cs, "a").unwrap(),
            None,
            "not in charset"
        );
    }

    #[test]
    fn choosing_a_candidate_weighs_it_against_the_others_and_the_free_reading() {
        let cs = Charset::ktp();
        let f = |ch: Option<char>, p: f32| frame(&cs, (ch, p), None);
        // "KAWIN", clearly.
        let frames: Vec<Vec<f32>> = "KAWIN"
            .chars()
            .flat_map(|ch| [f(Some(ch), 0.95), f(None, 0.95)])
            .collect();
        let (m, t) = matrix(&frames);
        let vocab = ["BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"];
        let (i, p) = choose(&m, t, C, &cs, &vocab, "KAWIN").unwrap().unwrap();
        assert_eq!(vocab[i], "KAWIN");
        assert!(p > 0.99, "{p}");
        // A line that reads as something else confirms no candidate.
        let frames: Vec<Vec<f32>> = "PETANI"
            .chars()
            .flat_map(|ch| [f(Some(ch), 0.95), f(None, 0.95)])
            .collect();
        let (m, t) = matrix(&frames);
        assert_eq!(choose(&m, t, C, &cs, &vocab, "PETANI").unwrap(), None);
    }

    #[test]
    fn a_character_dropped_in_a_gap_makes_the_line_doubtful() {
        let cs = Charset::ktp();
        let f = |ch: Option<char>, p: f32| frame(&cs, (ch, p), None);
        let sure = [
            f(Some('S'), 0.99),
            f(None, 0.99),
            f(None, 0.99),
            f(Some('M'), 0.99),
        ];
        let d = greedy(&matrix(&sure).0, 4, C, &cs).expect("decode");
        assert_eq!(d.text, "SM");
        assert!(d.confidence > 0.95, "{}", d.confidence);
        // The blank between S and M also gives 0.4 to an I the model could not make out.
        let doubt = [
            f(Some('S'), 0.99),
            frame(&cs, (None, 0.55), Some((Some('I'), 0.4))),
            f(None, 0.99),
            f(Some('M'), 0.99),
        ];
        let d = greedy(&matrix(&doubt).0, 4, C, &cs).expect("decode");
        assert_eq!(d.text, "SM");
        assert!(d.confidence < 0.6, "{}", d.confidence);
        assert!(
            d.min_char_confidence() > 0.95,
            "the characters themselves stay sure"
        );
    }

    #[test]
    fn an_empty_line_is_as_sure_as_its_least_sure_blank() {
        let cs = Charset::ktp();
        let (m, t) = matrix(&vec![frame(&cs, (None, 0.99), None); 4]);
        let d = greedy(&m, t, C, &cs).expect("decode");
        assert_eq!(d.text, "");
        assert!((d.confidence - 0.99).abs() < 1e-3, "{}", d.confidence);
        // A faint character under the blanks: nothing is read, and not confidently.
        let mut frames = vec![frame(&cs, (None, 0.99), None); 4];
        frames[2] = frame(&cs, (None, 0.6), Some((Some('O'), 0.35)));
        let (m, t) = matrix(&frames);
        let d = greedy(&m, t, C, &cs).expect("decode");
        assert_eq!(d.text, "");
        assert!(d.confidence < 0.65, "{}", d.confidence);
        let d = greedy(&[], 0, C, &cs).expect("zero timesteps");
        assert_eq!(d.text, "");
    }

    #[test]
    fn shape_errors_are_reported() {
        let cs = Charset::ktp();
        assert_eq!(
            greedy(&[0.0; 10], 3, C, &cs),
            Err(CtcError::Shape {
                len: 10,
                t: 3,
                c: C
            })
        );
        assert_eq!(
            greedy(&[0.0; 20], 2, 10, &cs),
            Err(CtcError::Classes { c: 10, chars: 45 })
        );
        assert_eq!(
            greedy_constrained(&[0.0; 46], 1, C, &cs, "0a"),
            Err(CtcError::NotInCharset('a'))
        );
    }

    #[test]
    fn constrained_decoding_fixes_letter_digit_confusions() {
        let cs = Charset::ktp();
        // The model reads "3O1I" (O and I win, but 0 and 1 are second), a blank between.
        let (m, t) = matrix(&[
            frame(&cs, (Some('3'), 0.97), None),
            frame(&cs, (None, 0.9), None),
            frame(&cs, (Some('O'), 0.6), Some((Some('0'), 0.35))),
            frame(&cs, (None, 0.9), None),
            frame(&cs, (Some('1'), 0.9), None),
            frame(&cs, (None, 0.9), None),
            frame(&cs, (Some('I'), 0.55), Some((Some('1'), 0.4))),
        ]);
        let free = greedy(&m, t, C, &cs).expect("decode");
        assert_eq!(free.text, "3O1I");
        let d = greedy_constrained(&m, t, C, &cs, NIK_CHARS).expect("decode");
        assert_eq!(d.text, "3011");
        // Renormalised over blank + digits, the fixed zero is confident (0.35 of ~0.4 allowed mass).
        assert!(d.char_confidences[1] > 0.8, "{:?}", d.char_confidences);
        assert!(d.char_confidences[0] > 0.97);
        // Restricted without renormalising: the same choice, at the model's own probability.
        let r = greedy_restricted(&m, t, C, &cs, NIK_CHARS).expect("decode");
        assert_eq!(r.text, "3011");
        assert!(
            (r.char_confidences[1] - 0.35).abs() < 0.02,
            "{:?}",
            r.char_confidences
        );
        // Separators are kept when allowed, dropped (to the next best allowed class) otherwise.
        let (m, t) = matrix(&[
            frame(&cs, (Some('0'), 0.9), None),
            frame(&cs, (Some('/'), 0.9), None),
            frame(&cs, (Some('1'), 0.9), None),
        ]);
        assert_eq!(
            greedy_constrained(&m, t, C, &cs, RT_RW_CHARS)
                .expect("decode")
                .text,
            "0/1"
        );
        assert_eq!(
            greedy_constrained(&m, t, C, &cs, DATE_CHARS)
                .expect("decode")
                .text,
            "01"
        );
    }

    #[test]
    fn constrained_confidence_is_low_when_the_model_sees_a_letter() {
        let cs = Charset::ktp();
        // A clear 'B' with almost nothing on digits: the digit that wins is not trusted.
        let (m, t) = matrix(&[frame(&cs, (Some('B'), 0.98), Some((Some('8'), 0.0005)))]);
        let d = greedy_constrained(&m, t, C, &cs, NIK_CHARS).expect("decode");
        assert!(d.text.is_empty() || d.confidence < 0.5, "{d:?}");
    }

    #[test]
    fn template_decoding_drops_an_extra_digit_and_keeps_the_length() {
        let cs = Charset::ktp();
        // "1", blank, "7" (weak), blank, "2": greedy reads 172; a two-digit template keeps 12.
        let m = matrix(&[
            frame(&cs, (Some('1'), 0.9), None),
            frame(&cs, (None, 0.9), None),
            frame(&cs, (Some('7'), 0.5), Some((None, 0.45))),
            frame(&cs, (None, 0.9), None),
            frame(&cs, (Some('2'), 0.9), None),
        ]);
        let g = greedy(&m.0, m.1, C, &cs).unwrap();
        assert_eq!(g.text, "172");
        let d = best_path_template(&m.0, m.1, C, &cs, &[NIK_CHARS, NIK_CHARS])
            .unwrap()
            .unwrap();
        assert_eq!(d.text, "12");
        assert_eq!(d.char_confidences.len(), 2);
        // Three digits fit too, and then the weak 7 is the best third.
        let d3 = best_path_template(&m.0, m.1, C, &cs, &[NIK_CHARS; 3])
            .unwrap()
            .unwrap();
        assert_eq!(d3.text, "172");
        // Too short a line for the template.
        assert_eq!(
            best_path_template(&m.0, m.1, C, &cs, &[NIK_CHARS; 6]).unwrap(),
            None
        );
    }

    #[test]
    fn template_decoding_needs_a_blank_between_repeated_characters_and_follows_each_set() {
        let cs = Charset::ktp();
        // Frames 5, 5, 5: one run, so "55" is impossible without a blank; the template forces a
        // second character from another frame's best.
        let m = matrix(&[
            frame(&cs, (Some('5'), 0.9), None),
            frame(&cs, (Some('5'), 0.9), None),
            frame(&cs, (Some('5'), 0.5), Some((Some('/'), 0.4))),
        ]);
        let d = best_path_template(&m.0, m.1, C, &cs, &[NIK_CHARS, "/"])
            .unwrap()
            .unwrap();
        assert_eq!(d.text, "5/");
        let d = best_path_template(&m.0, m.1, C, &cs, &[NIK_CHARS, NIK_CHARS])
            .unwrap()
            .unwrap();
        assert_eq!(d.text.len(), 2);
        assert_ne!(d.text, "55");
    }
}
