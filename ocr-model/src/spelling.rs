//! How Indonesian words are spelled: a character n-gram model learned from the register's place
//! names, and the CTC beam search that lets it break ties on a blurred name line.
//!
//! A person's name is not in any list the reader could ship, but it is spelled like the words
//! around it: "HANDAYANI", "SUKAMAJU" and "WIJAYA" share their syllables. The model here knows only
//! the 47,000-odd distinct words of the Kemendagri village, district and regency names
//! (`crdt_schema::region`), none of them a person's name, so it carries the language's spelling
//! and not anyone's identity. The reader uses it only where the recogniser itself hesitates: a
//! character the line shows clearly always outweighs it (see [`SpellingPrior`]).
//!
//! The model is interpolated Witten-Bell over characters, word by word: each word is scored from
//! its start (`^`) to its end (`$`), a space ends one word and starts the next. Punctuation inside
//! a name (`MA'RUF`, `M.`) and a digit of an address cost the model's mean per character, so the
//! prior neither favours nor penalises them.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use crate::ctc::{BLANK, Charset, CtcError};

/// Symbols of the model: 0 the word boundary, 1-26 `A`-`Z`, 27 anything else inside a word.
const BOUNDARY: u8 = 0;
const OTHER: u8 = 27;
const SYMBOLS: usize = 28;

/// Characters of context: the model is a 6-gram. On 300 hard cards each of seeds 3 and 5 (names
/// right, with the reader's weights): 5-gram 128 / 125, 6-gram 131 / 127, 7-gram 131 / 125; a beam of
/// 24 instead of 12 read the same names.
const CONTEXT: usize = 5;

fn symbol(ch: char) -> u8 {
    if ch.is_ascii_uppercase() {
        ch as u8 - b'A' + 1
    } else {
        OTHER
    }
}

/// A multiply-shift hasher for the packed n-gram keys (SipHash costs more than the lookups it
/// guards here).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        self.0 ^= self.0 >> 32;
    }
}

type Map<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// A context of up to [`CONTEXT`] symbols, most recent in the low bits, packed 5 bits each with
/// its length in the top bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct State(u64);

impl State {
    /// The start of a word.
    pub const START: State = State(1 << 60 | BOUNDARY as u64);

    fn len(self) -> usize {
        (self.0 >> 60) as usize
    }

    fn push(self, s: u8) -> State {
        let len = (self.len() + 1).min(CONTEXT);
        let mask = (1u64 << (5 * len)) - 1;
        State((len as u64) << 60 | (((self.0 << 5) | u64::from(s)) & mask))
    }

    /// The same context without its oldest symbol.
    fn shorter(self) -> State {
        let len = self.len() - 1;
        let mask = (1u64 << (5 * len)) - 1;
        State((len as u64) << 60 | (self.0 & mask))
    }

    fn with(self, s: u8) -> u64 {
        // A continuation key: the context with the symbol appended, tagged apart from contexts.
        (1 << 63) | ((self.len() as u64) << 60) | (self.0 & ((1 << 60) - 1)) << 5 | u64::from(s)
    }
}

/// A character n-gram model of words (interpolated Witten-Bell).
#[derive(Debug)]
pub struct CharLm {
    /// Per context: (continuations seen, distinct continuations).
    contexts: Map<(u32, u32)>,
    /// Per context and next symbol: times seen.
    counts: Map<u32>,
    /// The mean log-probability per symbol over the training words: the cost of a character the
    /// model does not judge.
    mean_logp: f32,
}

impl CharLm {
    /// Learns the model from words (upper-case letters; anything else counts as "other").
    pub fn train<'a>(words: impl IntoIterator<Item = &'a str>) -> CharLm {
        let mut lm = CharLm {
            contexts: Map::default(),
            counts: Map::default(),
            mean_logp: 0.0,
        };
        let mut kept: Vec<&str> = Vec::new();
        for w in words {
            let mut state = State::START;
            for s in w.chars().map(symbol).chain(std::iter::once(BOUNDARY)) {
                let mut ctx = state;
                loop {
                    let seen = lm.counts.entry(ctx.with(s)).or_insert(0);
                    *seen += 1;
                    let new = *seen == 1;
                    let c = lm.contexts.entry(ctx.0).or_insert((0, 0));
                    c.0 += 1;
                    c.1 += u32::from(new);
                    if ctx.len() == 0 {
                        break;
                    }
                    ctx = ctx.shorter();
                }
                state = state.push(s);
            }
            kept.push(w);
        }
        let (mut total, mut n) = (0.0f64, 0usize);
        for w in &kept {
            total += f64::from(lm.word_logp(w));
            n += w.chars().count() + 1;
        }
        lm.mean_logp = (total / n.max(1) as f64) as f32;
        lm
    }

    /// `ln P(s | state)`.
    pub fn logp(&self, state: State, s: u8) -> f32 {
        self.prob(state, s).ln()
    }

    fn prob(&self, ctx: State, s: u8) -> f32 {
        let lower = if ctx.len() == 0 {
            1.0 / SYMBOLS as f32
        } else {
            self.prob(ctx.shorter(), s)
        };
        match self.contexts.get(&ctx.0) {
            Some(&(total, types)) => {
                let seen = self.counts.get(&ctx.with(s)).copied().unwrap_or(0);
                (seen as f32 + types as f32 * lower) / (total + types) as f32
            }
            None => lower,
        }
    }

    /// `ln P(word)`, from its start to its end.
    pub fn word_logp(&self, word: &str) -> f32 {
        let mut state = State::START;
        let mut sum = 0.0;
        for s in word.chars().map(symbol).chain(std::iter::once(BOUNDARY)) {
            sum += self.logp(state, s);
            state = state.push(s);
        }
        sum
    }

    /// The cost of one character of a line after `state`, and the state after it: a letter by the
    /// model, a space as the end of a word (the next starts afresh), anything else at the mean
    /// cost; an apostrophe, hyphen or digit stays in the context (a word rarely ends right after
    /// an apostrophe), a full stop or comma does not (it ends an initial: "M. ARI").
    pub fn step(&self, state: State, ch: char) -> (f32, State) {
        if ch == ' ' {
            (self.logp(state, BOUNDARY), State::START)
        } else if ch.is_ascii_uppercase() {
            let s = symbol(ch);
            (self.logp(state, s), state.push(s))
        } else if matches!(ch, '.' | ',') {
            (self.mean_logp, state)
        } else {
            (self.mean_logp, state.push(OTHER))
        }
    }

    /// The cost of ending the line after `state` (the end of its last word, if one is open).
    pub fn end(&self, state: State) -> f32 {
        if state == State::START {
            0.0
        } else {
            self.logp(state, BOUNDARY)
        }
    }

    /// The mean log-probability per symbol over the training words.
    pub fn mean_logp(&self) -> f32 {
        self.mean_logp
    }

    /// How many contexts and (context, symbol) counts the model holds.
    pub fn size(&self) -> (usize, usize) {
        (self.contexts.len(), self.counts.len())
    }
}

/// Every distinct word of the register's village, district and regency names (the words KABUPATEN
/// and KOTA left out), upper case, sorted: Indonesian spelling, and no person's name.
pub static REGISTER_WORDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    use crdt_schema::region;
    let mut words: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        for w in name.split([' ', '-', '/', '(', ')']) {
            let w = w.trim_matches(|c: char| !c.is_ascii_alphabetic());
            if w.len() >= 2 && w.chars().all(|c| c.is_ascii_alphabetic() || c == '\'') {
                words.push(w.to_ascii_uppercase());
            }
        }
    };
    for r in region::regencies() {
        add(region::split_regency_name(r.name).map_or(r.name, |(_, rest)| rest));
    }
    for d in region::districts() {
        add(d.name);
        for v in region::villages_of(d.code) {
            add(v);
        }
    }
    words.sort_unstable();
    words.dedup();
    words
});

/// The model learned from the register's place names ([`REGISTER_WORDS`]), built once per process.
pub static REGISTER_SPELLING: LazyLock<CharLm> =
    LazyLock::new(|| CharLm::train(REGISTER_WORDS.iter().map(String::as_str)));

/// How much the spelling model counts against the recogniser when decoding a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpellingPrior {
    /// Weight of the model's log-probability (0 turns the prior off).
    pub weight: f32,
    /// Added per character, so the prior does not simply favour shorter readings.
    pub bonus: f32,
    /// Readings kept at each timestep.
    pub beam: usize,
}

/// Per-timestep characters whose log-probability is below this are not tried.
const TRY_ABOVE: f32 = -9.0;
/// At most this many characters are tried per timestep and reading.
const TRY_AT_MOST: usize = 6;

/// At most this many recognisers' readings of one line are searched together
/// ([`beam_search_joint`]).
pub const MAX_MODELS: usize = 2;

#[derive(Debug, Clone, Copy)]
struct Beam {
    /// The reading: a node of the prefix tree (0 is the empty reading), and its length.
    node: u32,
    len: usize,
    /// Per recogniser: ln P(reading, ending in blank) and ln P(reading, ending in its last class).
    blank: [f32; MAX_MODELS],
    label: [f32; MAX_MODELS],
    /// Weighted prior so far and the model state after the reading.
    prior: f32,
    state: State,
}

fn log_add(a: f32, b: f32) -> f32 {
    if a == f32::NEG_INFINITY {
        return b;
    }
    if b == f32::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// CTC prefix beam search over `allowed` characters with the spelling model as a prior: each
/// reading is scored by its CTC probability (every alignment summed) times the model's
/// probability to the power `weight`, with `bonus` per character. Returns the best reading's text;
/// its confidence is the caller's to compute (the recogniser's own probability of it).
pub fn beam_search(
    logp: &[f32],
    t: usize,
    c: usize,
    charset: &Charset,
    allowed: &str,
    lm: &CharLm,
    prior: SpellingPrior,
) -> Result<String, CtcError> {
    beam_search_joint(&[logp], t, c, charset, allowed, lm, prior)
}

/// [`beam_search`] over several recognisers' log-probabilities of the same crop (each `t` x `c`,
/// at most [`MAX_MODELS`]): a reading is scored by the mean of its log CTC probabilities under
/// each (every alignment summed in each model apart, so two networks that put a character's peak
/// on different frames still agree on the reading), plus the prior. The mean, not the sum, keeps
/// the prior's weight what it is for one recogniser.
pub fn beam_search_joint(
    models: &[&[f32]],
    t: usize,
    c: usize,
    charset: &Charset,
    allowed: &str,
    lm: &CharLm,
    prior: SpellingPrior,
) -> Result<String, CtcError> {
    let n = models.len();
    if n == 0 || n > MAX_MODELS {
        return Err(CtcError::Models(n));
    }
    for logp in models {
        crate::ctc::check(logp, t, c, charset)?;
    }
    let mut classes: Vec<(usize, char)> = Vec::new();
    for ch in allowed.chars() {
        let k = charset.class_of(ch).ok_or(CtcError::NotInCharset(ch))?;
        classes.push((k, ch));
    }
    let char_of = |k: usize| {
        classes
            .iter()
            .find(|(c, _)| *c == k)
            .map_or(' ', |(_, ch)| *ch)
    };
    let share = 1.0 / n as f32;
    let score = |b: &Beam| {
        let model: f32 = (0..n).map(|m| log_add(b.blank[m], b.label[m])).sum();
        model * share + b.prior + prior.bonus * b.len as f32
    };
    const NONE: [f32; MAX_MODELS] = [f32::NEG_INFINITY; MAX_MODELS];
    // The prefix tree: each node's parent and class; children found by (parent, class).
    let mut tree: Vec<(u32, usize)> = vec![(0, BLANK)];
    let mut children: Map<u32> = Map::default();
    let mut start = Beam {
        node: 0,
        len: 0,
        blank: NONE,
        label: NONE,
        prior: 0.0,
        state: State::START,
    };
    start.blank[..n].fill(0.0);
    let mut beams = vec![start];
    let mut next: Map<Beam> = Map::default();
    let mut tried: Vec<(usize, f32)> = Vec::with_capacity(classes.len());
    // The model's cost of each (state, character) met on this line: beams share their recent
    // characters, so most are asked for many times.
    let mut costs: Map<(f32, State)> = Map::default();
    for step in 0..t {
        let rows: [&[f32]; MAX_MODELS] =
            std::array::from_fn(|m| models.get(m).map_or(&[][..], |l| &l[step * c..][..c]));
        next.clear();
        tried.clear();
        // A character is tried where any recogniser sees it, by the best of their readings.
        tried.extend(classes.iter().filter_map(|&(k, _)| {
            let best = rows[..n]
                .iter()
                .map(|r| r[k])
                .fold(f32::NEG_INFINITY, f32::max);
            (best > TRY_ABOVE).then_some((k, best))
        }));
        tried.sort_by(|a, b| b.1.total_cmp(&a.1));
        tried.truncate(TRY_AT_MOST);
        for b in &beams {
            let total: [f32; MAX_MODELS] = std::array::from_fn(|m| log_add(b.blank[m], b.label[m]));
            // The reading's last class (the blank for the empty reading).
            let last = tree[b.node as usize].1;
            // Stay: a blank, or the last class again.
            let stay = next.entry(u64::from(b.node)).or_insert(Beam {
                blank: NONE,
                label: NONE,
                ..*b
            });
            for (m, row) in rows[..n].iter().enumerate() {
                stay.blank[m] = log_add(stay.blank[m], total[m] + row[BLANK]);
                if b.len > 0 {
                    stay.label[m] = log_add(stay.label[m], b.label[m] + row[last]);
                }
            }
            // Grow by one class (after a blank only, if it repeats the last).
            for &(k, _) in &tried {
                let from = if b.len > 0 && last == k {
                    b.blank
                } else {
                    total
                };
                if from[..n].iter().all(|f| *f == f32::NEG_INFINITY) {
                    continue;
                }
                let key = u64::from(b.node) << 8 | k as u64;
                let node = *children.entry(key).or_insert_with(|| {
                    tree.push((b.node, k));
                    (tree.len() - 1) as u32
                });
                let grown = next.entry(u64::from(node)).or_insert_with(|| {
                    let (cost, state) = *costs
                        .entry(b.state.0 << 8 | k as u64)
                        .or_insert_with(|| lm.step(b.state, char_of(k)));
                    Beam {
                        node,
                        len: b.len + 1,
                        blank: NONE,
                        label: NONE,
                        prior: b.prior + prior.weight * cost,
                        state,
                    }
                });
                for (m, row) in rows[..n].iter().enumerate() {
                    grown.label[m] = log_add(grown.label[m], from[m] + row[k]);
                }
            }
        }
        beams.clear();
        beams.extend(next.values().copied());
        beams.sort_by(|a, b| score(b).total_cmp(&score(a)).then(a.node.cmp(&b.node)));
        beams.truncate(prior.beam.max(1));
    }
    let end = |x: &Beam| score(x) + prior.weight * lm.end(x.state);
    let Some(best) = beams.iter().max_by(|a, b| end(a).total_cmp(&end(b))) else {
        return Ok(String::new());
    };
    let mut text = Vec::with_capacity(best.len);
    let mut node = best.node;
    while node != 0 {
        let (parent, k) = tree[node as usize];
        text.push(char_of(k));
        node = parent;
    }
    Ok(text.iter().rev().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lm() -> CharLm {
        CharLm::train([
            "SUKAMAJU",
            "SUKARAJA",
            "MAJULAYA",
            "CIMAJU",
            "SUKAJAYA",
            "JAYAMULYA",
        ])
    }

    /// `[t][c]` log-probabilities of a line that shows `frames`: per frame, its classes and their
    /// probabilities (the rest of the mass, if any, on the blank).
    fn line(charset: &Charset, frames: &[&[(char, f32)]]) -> Vec<f32> {
        let c = charset.num_classes();
        let mut out = vec![1e-6f32; frames.len() * c];
        for (f, chars) in frames.iter().enumerate() {
            let row = &mut out[f * c..(f + 1) * c];
            let mut blank = 1.0;
            for (ch, p) in *chars {
                row[charset.class_of(*ch).expect("in charset")] = *p;
                blank -= p;
            }
            row[BLANK] = blank.max(1e-6);
        }
        out.iter().map(|p| p.ln()).collect()
    }

    fn frames_of(text: &str) -> Vec<Vec<(char, f32)>> {
        let mut f = Vec::new();
        for ch in text.chars() {
            f.push(vec![(ch, 0.98)]);
            f.push(vec![]);
        }
        f
    }

    #[test]
    fn states_keep_the_last_five_symbols() {
        let mut s = State::START;
        assert_eq!(s.len(), 1);
        for ch in "SUKAMAJU".chars() {
            s = s.push(symbol(ch));
        }
        assert_eq!(s.len(), CONTEXT);
        let mut t = State::START;
        for ch in "AMAJU".chars() {
            t = t.push(symbol(ch));
        }
        // "^AMAJU" keeps "AMAJU" as does "^SUKAMAJU".
        assert_eq!(s, t);
        assert_eq!(s.shorter().len(), CONTEXT - 1);
    }

    #[test]
    fn spelled_words_are_likelier_than_their_scrambles() {
        let lm = lm();
        assert!(lm.word_logp("SUKAMAJU") > lm.word_logp("SUKAMAJV") + 2.0);
        // Unseen but built of seen syllables beats unseen letter salad of the same length.
        assert!(lm.word_logp("JAYARAJA") > lm.word_logp("QXZWKVPT") + 10.0);
        // Probabilities of the next symbol sum to one in any context.
        for ctx in ["", "S", "SUKA", "QX", "CIMAJU"] {
            let mut s = State::START;
            for ch in ctx.chars() {
                s = s.push(symbol(ch));
            }
            let sum: f32 = (0..SYMBOLS as u8).map(|x| lm.logp(s, x).exp()).sum();
            assert!((sum - 1.0).abs() < 1e-4, "{ctx}: {sum}");
        }
        assert!(lm.mean_logp() < 0.0 && lm.mean_logp() > -(SYMBOLS as f32).ln());
    }

    #[test]
    fn a_space_ends_the_word_and_punctuation_costs_the_mean() {
        let lm = lm();
        let mut s = State::START;
        for ch in "SUKA".chars() {
            s = lm.step(s, ch).1;
        }
        let (end, after) = lm.step(s, ' ');
        assert_eq!(after, State::START);
        assert_eq!(end, lm.logp(s, BOUNDARY));
        assert_eq!(lm.step(s, '.'), (lm.mean_logp(), s));
        assert_eq!(lm.step(s, '\''), (lm.mean_logp(), s.push(OTHER)));
        assert_eq!(lm.end(State::START), 0.0);
    }

    #[test]
    fn the_prior_breaks_a_tie_the_recogniser_leaves_and_no_other() {
        let charset = Charset::ktp();
        let c = charset.num_classes();
        let lm = lm();
        let prior = SpellingPrior {
            weight: 0.3,
            bonus: 0.45,
            beam: 12,
        };
        let search = |frames: &[Vec<(char, f32)>]| {
            let f: Vec<&[(char, f32)]> = frames.iter().map(Vec::as_slice).collect();
            let logp = line(&charset, &f);
            beam_search(
                &logp,
                frames.len(),
                c,
                &charset,
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ ",
                &lm,
                prior,
            )
            .expect("search")
        };
        // The last letter is U or V, evenly: the spelling decides.
        let mut frames = frames_of("SUKAMAJ");
        frames.push(vec![('U', 0.45), ('V', 0.45)]);
        assert_eq!(search(&frames), "SUKAMAJU");
        // Read clearly, an unlikely spelling stands.
        let mut frames = frames_of("SUKAMAJ");
        frames.push(vec![('V', 0.97)]);
        assert_eq!(search(&frames), "SUKAMAJV");
        // Doubled letters need a blank between them, as in CTC.
        assert_eq!(search(&frames_of("AA JAYA")), "AA JAYA");
        let run = vec![vec![('A', 0.98)], vec![('A', 0.98)], vec![]];
        assert_eq!(search(&run), "A");
    }

    #[test]
    fn two_recognisers_in_doubt_on_different_letters_read_the_word_together() {
        let charset = Charset::ktp();
        let c = charset.num_classes();
        let plain = SpellingPrior {
            weight: 0.0,
            bonus: 0.0,
            beam: 12,
        };
        // One is unsure of the second letter, the other of the fourth; each is sure where the
        // other is not, and the second reads every letter a frame later.
        let mut a = frames_of("MAJU");
        a[2] = vec![('A', 0.4), ('E', 0.6)];
        let mut b = frames_of("MAJU");
        b[6] = vec![('U', 0.4), ('V', 0.6)];
        b.insert(0, vec![]);
        b.pop();
        let as_line = |f: &[Vec<(char, f32)>]| {
            let rows: Vec<&[(char, f32)]> = f.iter().map(Vec::as_slice).collect();
            line(&charset, &rows)
        };
        let (a, b) = (as_line(&a), as_line(&b));
        let t = a.len() / c;
        let alone = |l: &[f32]| beam_search(l, t, c, &charset, "AEJMUV", &lm(), plain).unwrap();
        assert_eq!(alone(&a), "MEJU");
        assert_eq!(alone(&b), "MAJV");
        let both = beam_search_joint(&[&a, &b], t, c, &charset, "AEJMUV", &lm(), plain);
        assert_eq!(both.unwrap(), "MAJU");
        // No recogniser, or more than the search holds, is an error and not an empty reading.
        let none = beam_search_joint(&[], t, c, &charset, "A", &lm(), plain);
        assert!(matches!(none, Err(CtcError::Models(0))));
        let three = beam_search_joint(&[&a, &a, &a], t, c, &charset, "A", &lm(), plain);
        assert!(matches!(three, Err(CtcError::Models(3))));
    }

    #[test]
    fn the_register_model_knows_place_words() {
        let lm = &*REGISTER_SPELLING;
        assert!(lm.word_logp("SUKAMAJU") > lm.word_logp("SUKAMAJV") + 3.0);
        assert!(lm.word_logp("WIJAYA") > lm.word_logp("WIJAVA"));
        assert!(lm.size().0 > 50_000, "{:?}", lm.size());
    }

    proptest! {
        #[test]
        fn any_line_gives_allowed_characters_no_longer_than_its_timesteps(
            t in 0usize..40,
            seed in any::<u64>(),
            weight in 0.0f32..2.0,
            bonus in -2.0f32..3.0,
        ) {
            let charset = Charset::ktp();
            let c = charset.num_classes();
            let mut x = seed | 1;
            let mut logp = Vec::with_capacity(t * c);
            for _ in 0..t {
                let row: Vec<f32> = (0..c)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x % 1000) as f32 / 100.0
                    })
                    .collect();
                let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let z = row.iter().map(|v| (v - m).exp()).sum::<f32>().ln() + m;
                logp.extend(row.iter().map(|v| v - z));
            }
            let prior = SpellingPrior { weight, bonus, beam: 6 };
            let allowed = crate::ctc::NAME_CHARS;
            let text = beam_search(&logp, t, c, &charset, allowed, &lm(), prior).expect("search");
            prop_assert!(text.chars().count() <= t);
            prop_assert!(text.chars().all(|ch| allowed.contains(ch)), "{}", text);
            // Two recognisers that read the line alike read it as one does.
            let twice = beam_search_joint(&[&logp, &logp], t, c, &charset, allowed, &lm(), prior)
                .expect("joint search");
            prop_assert_eq!(twice, text);
        }
    }
}
