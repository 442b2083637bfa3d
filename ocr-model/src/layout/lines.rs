//! The text lines of a rectified card on the known e-KTP layout: the header, the NIK, the labelled
//! rows keyed by their place on the row grid, the value columns moved with the colons, and each
//! line's box as the recogniser was trained on it.

use super::ink::{Band, Ink, bands, mm_px, px_mm, runs};
use super::{PX_PER_MM, ROW_KEYS, at};

/// One line to read: its field key and its box in card millimetres.
#[derive(Debug, Clone, PartialEq)]
pub struct LineBox {
    pub key: &'static str,
    /// x0, y0, x1, y1 in card millimetres.
    pub rect: [f32; 4],
    /// Print that may be the line's own goes on past the box's end, too faint to be ink there
    /// (glare or a fade over the rest of the line): what the box holds may be only part of the
    /// line ([`continues_faintly`]).
    pub cut: bool,
}

/// Why no layout could be found on a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// No NIK band where the layout puts it.
    NoNik,
    /// Too few labelled rows.
    TooFewRows(usize),
}

/// Horizontal ink extent `[x0, x1)` in pixels within `x` (mm) over the band's rows: the first
/// ink run and every run after it separated by at most `gap_mm`; `centred` takes the run group
/// with the most ink instead of the first.
pub(super) fn extent(
    ink: &Ink,
    band: Band,
    x: [f32; 2],
    gap_mm: f32,
    centred: bool,
) -> Option<(usize, usize)> {
    let (x0, x1) = (mm_px(x[0]), mm_px(x[1]));
    let cols = ink.cols(x0, x1, band.y0, band.y1);
    let groups = runs(&cols, 2, (gap_mm * PX_PER_MM) as usize, 2);
    let weight = |g: &(usize, usize)| cols[g.0..g.1].iter().sum::<u32>();
    let g = if centred {
        groups.iter().max_by_key(|g| weight(g))?
    } else {
        groups.iter().find(|g| weight(g) >= 6)?
    };
    // Ink running into the column's left edge is a letter the column cuts (the card a little
    // larger than its outline says, as in a close-up): follow it left while every column has ink,
    // unless the whole mark is as narrow as the colon before the value.
    let mut start = x0 + g.0;
    if g.0 == 0 && !centred {
        let reach = x0.saturating_sub(mm_px(OVERHANG_MM));
        let left = ink.cols(reach, x0, band.y0, band.y1);
        let from = reach + left.iter().rposition(|&c| c == 0).map_or(0, |i| i + 1);
        let inside = cols.iter().position(|&c| c == 0).unwrap_or(cols.len());
        if (x0 - from + inside) as f32 > COLON_MM * PX_PER_MM {
            start = from;
        }
    }
    // The same on the right: the last letters of a line running past the column's end (a
    // close-up's card larger than its outline, where "NO. 94" was read "NO. 9") are followed
    // right across the gaps between letters, up to a word's gap or [`OVERHANG_RIGHT_MM`].
    let mut end = x0 + g.1;
    let letter_gap = mm_px(LETTER_GAP_MM);
    if cols.len() - g.1 <= letter_gap && !centred {
        let reach = (x1 + mm_px(OVERHANG_RIGHT_MM)).min(ink.w);
        let right = ink.cols(end, reach, band.y0, band.y1);
        if let Some(&(a, e)) = runs(&right, 1, letter_gap, 1).first()
            && a <= letter_gap
        {
            end += e;
        }
    }
    if !centred {
        let tall = band.height() as u32 / 2;
        let left = ink.faint_cols(
            x0.max(start.saturating_sub(mm_px(FAINT_REACH_MM))),
            start,
            band.y0,
            band.y1,
        );
        start -= faint_edge(&left, false, tall);
        end += faint_edge(
            &ink.faint_cols(end, x1.min(end + mm_px(FAINT_REACH_MM)), band.y0, band.y1),
            true,
            tall,
        );
    }
    Some((start, end))
}

/// How many columns a line's faint end reaches past its ink, looking out from the line into
/// `cols` (faint ink per column; from its first column when `outward`, else from its last): the
/// farthest column with faint ink and no wider gap than [`FAINT_GAP_MM`] before it, when one of
/// those columns holds a stroke at least `tall` pixels high (0 otherwise). A thin first or last
/// letter printed faintly or blurred (the "J" of "JLN." on a phone photo, seed 5's card 288) is
/// not ink at the line's threshold, and the line's box cut it in half: the recogniser read
/// "LN. MANGGA", sure.
fn faint_edge(cols: &[u32], outward: bool, tall: u32) -> usize {
    let n = cols.len();
    let at = |i: usize| if outward { cols[i] } else { cols[n - 1 - i] };
    let (mut last, mut stroke, mut blank) = (0, false, 0);
    for i in 0..n {
        if at(i) > 0 {
            last = i + 1;
            stroke |= at(i) >= tall;
            blank = 0;
        } else {
            blank += 1;
            if blank > mm_px(FAINT_GAP_MM) {
                break;
            }
        }
    }
    if stroke { last } else { 0 }
}

/// How far (mm) past a line's ink a faint letter is looked for ([`faint_edge`]): a narrow letter
/// and the gap before it.
const FAINT_REACH_MM: f32 = 1.5;
/// The widest gap (mm) between a line's ink and a faint letter at its end.
const FAINT_GAP_MM: f32 = 0.5;

/// How far (mm) a line's ink is followed left of its column when the column cuts a letter.
const OVERHANG_MM: f32 = 1.5;
/// How far (mm) a line's ink is followed right of its column's end: two digits of a house number.
const OVERHANG_RIGHT_MM: f32 = 2.5;
/// The widest gap (mm) between two letters of a word (a space is wider).
const LETTER_GAP_MM: f32 = 0.4;
/// Marks at most this wide (mm) cut by a value column's left edge are taken for its colon.
const COLON_MM: f32 = 0.6;

/// Vertical ink extent of rows `band` restricted to columns `x0..x1`: (top, bottom) in pixels.
fn vertical(ink: &Ink, band: Band, x0: usize, x1: usize) -> (usize, usize) {
    let prof = ink.rows(x0, x1, band.y0.saturating_sub(2), band.y1 + 2);
    let base = band.y0.saturating_sub(2);
    let top = prof.iter().position(|&c| c >= 2).unwrap_or(0);
    let bottom = prof
        .iter()
        .rposition(|&c| c >= 2)
        .map_or(prof.len(), |b| b + 1);
    (base + top, base + bottom.max(top + 1))
}

/// The box the recogniser was trained on, from the ink's left and right edges, the capitals' top
/// and the cap height (all in pixels of the rectified card).
fn line_rect(x0: usize, x1: usize, top: usize, cap: f32) -> [f32; 4] {
    let lh = 1.8 * cap / PX_PER_MM;
    let (cap_mm, top_mm) = (cap / PX_PER_MM, px_mm(top));
    [
        px_mm(x0) - 0.25 * lh,
        top_mm - 0.35 * cap_mm,
        px_mm(x1) + 0.25 * lh,
        top_mm + 1.45 * cap_mm,
    ]
}

/// Finds the lines to read on a rectified card.
pub fn find_lines(ink: &Ink) -> Result<Vec<LineBox>, LayoutError> {
    let mut out = Vec::new();

    // Headers.
    for (band, key) in bands(ink, at::HEADER_X, at::HEADER_Y)
        .into_iter()
        .filter(|b| b.height() >= 6)
        .take(2)
        .zip(["province", "regency"])
    {
        if let Some((x0, x1)) = extent(ink, band, at::HEADER_X, 3.0, true) {
            let (top, bottom) = vertical(ink, band, x0, x1);
            out.push(LineBox {
                key,
                rect: line_rect(x0, x1, top, (bottom - top) as f32),
                cut: false,
            });
        }
    }

    // NIK: the tallest band in its range.
    let nik = bands(ink, at::NIK_X, at::NIK_Y)
        .into_iter()
        .max_by_key(|b| b.height())
        .ok_or(LayoutError::NoNik)?;
    // Labelled rows below the NIK.
    let rows_y = [at::ROWS_Y[0].max(px_mm(nik.y1) + 0.2), at::ROWS_Y[1]];
    let mut row_bands: Vec<Band> = bands(ink, at::VALUE, rows_y)
        .into_iter()
        .filter(|b| b.height() >= 5 && b.height() as f32 <= 3.2 * PX_PER_MM)
        .collect();
    if row_bands.len() < 6 {
        extent(ink, nik, at::NIK_X, 3.0, false).ok_or(LayoutError::NoNik)?;
        return Err(LayoutError::TooFewRows(row_bands.len()));
    }
    let mut labelled: Vec<bool> = row_bands
        .iter()
        .map(|b| has_label(ink, *b, at::LABEL))
        .collect();
    // A card laid out a little off (a close-up's guessed outline, an edge cut short) has its
    // colons off their column: the value columns move with them, and the label column ends
    // before them. Shifted left, an unlabelled line's print (an address's second line) reaches
    // into the label column as it was and looked labelled.
    let colons = colon_shift(ink, &row_bands, &labelled);
    relabel_with_colons(ink, &row_bands, &mut labelled, &colons);
    if let Some(name) = short_name_row(ink, &row_bands, &labelled, &colons, nik.y1) {
        row_bands.insert(0, name);
        labelled.insert(0, true);
    }
    for wrapped in short_wrapped_lines(ink, &row_bands, &labelled, &colons) {
        let at = row_bands.partition_point(|b| b.y0 < wrapped.y0);
        row_bands.insert(at, wrapped);
        labelled.insert(at, false);
    }
    for short in short_labelled_rows(ink, &row_bands, &labelled, &colons) {
        let at = row_bands.partition_point(|b| b.y0 < short.y0);
        row_bands.insert(at, short);
        labelled.insert(at, true);
    }
    let mid = |b: &Band| px_mm(b.y0 + b.y1) / 2.0;
    let nik_x = [at::NIK_X[0] + colons.at(mid(&nik)), at::NIK_X[1]];
    let (nx0, nx1) = extent(ink, nik, nik_x, 3.0, false).ok_or(LayoutError::NoNik)?;
    let (ntop, nbottom) = vertical(ink, nik, nx0, nx1);
    out.push(LineBox {
        key: "nik",
        rect: line_rect(nx0, nx1, ntop, (nbottom - ntop) as f32),
        cut: false,
    });
    // Cap height: the median band height over the value rows (descenders are rare in capitals).
    let mut heights: Vec<usize> = Vec::new();
    let mut found: Vec<(&'static str, Band, usize, usize, bool)> = Vec::new();
    let tops: Vec<f32> = row_bands.iter().map(|b| px_mm(b.y0)).collect();
    let keys = keys_by_position(&tops, &labelled);
    let mut next = 0;
    for (band, key) in row_bands.iter().zip(keys) {
        let Some(key) = key else { continue };
        if key != "address" || !found.iter().any(|f| f.0 == "address") {
            next += 1;
        }
        let end = if key == "sex" {
            at::SEX_END
        } else {
            at::VALUE[1]
        };
        // An address's further line has no colon: it starts where the address's first line does.
        let first_address = found.iter().find(|f| f.0 == "address");
        let start = match first_address {
            Some(&(_, _, x0, _, _)) if key == "address" => px_mm(x0) - WRAP_MARGIN_MM,
            _ => value_start(ink, *band, colons.at(mid(band))),
        };
        let Some((x0, x1)) = extent(ink, *band, [start, end], 2.5, false) else {
            continue;
        };
        let (top, bottom) = vertical(ink, *band, x0, x1);
        heights.push(bottom - top);
        found.push((
            key,
            Band {
                y0: top,
                y1: bottom,
            },
            x0,
            x1,
            CUT_KEYS.contains(&key) && continues_faintly(ink, *band, x1, mm_px(end)),
        ));
    }
    // (A keyed row counts even when no print was found in its value column: it still tells the
    // rows apart. With no value found at all there is no cap height to cut lines by.)
    if next < 6 || heights.is_empty() {
        return Err(LayoutError::TooFewRows(next.min(found.len())));
    }
    heights.sort_unstable();
    let cap = heights[heights.len() / 2] as f32;
    for (key, band, x0, x1, cut) in &found {
        out.push(LineBox {
            key,
            rect: line_rect(*x0, *x1, line_top(*band, cap), cap),
            cut: *cut,
        });
        if *key == "sex" {
            out.push(blood_type(ink, *band, cap));
        }
    }
    Ok(out)
}

/// How far (mm, + right) the colons before the values are from their column, row by row: a line
/// `shift(y)` fitted through the colon-like mark nearest the column on each labelled row (narrow,
/// ink on both sides of an empty middle, each dot under half the line's height), when at least
/// [`COLON_ROWS`] rows find one and most of them lie within [`COLON_AGREE_MM`] of the line. A
/// card laid out from a wrong outline (a close-up whose edge is the photo's) is sheared as well as
/// shifted: its colons drift by a millimetre or two from the first row to the last, which no one
/// offset follows. Zero where the colons are within [`COLON_SLACK_MM`] of their column (the
/// columns leave that much) or too few rows agree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ColonShift {
    /// Shift at `y_mid` (mm) and its change per millimetre down the card.
    pub(super) at_mid: f32,
    pub(super) slope: f32,
    pub(super) y_mid: f32,
}

impl ColonShift {
    pub(super) const NONE: ColonShift = ColonShift {
        at_mid: 0.0,
        slope: 0.0,
        y_mid: 0.0,
    };

    /// The fitted offset (mm) of the colon on the row whose middle is `y` (mm).
    fn line(&self, y: f32) -> f32 {
        self.at_mid + self.slope * (y - self.y_mid)
    }

    /// The shift (mm) of the value columns on the row whose middle is `y` (mm).
    pub(super) fn at(&self, y: f32) -> f32 {
        let s = self.line(y);
        if s.abs() < COLON_SLACK_MM { 0.0 } else { s }
    }
}

pub(super) fn colon_shift(ink: &Ink, bands: &[Band], labelled: &[bool]) -> ColonShift {
    let (x0, x1) = (
        mm_px(at::COLON - COLON_REACH_MM),
        mm_px(at::COLON + COLON_REACH_MM),
    );
    // (row middle, colon offset), mm.
    let mut found: Vec<(f32, f32)> = Vec::new();
    for band in bands
        .iter()
        .zip(labelled)
        .filter(|(_, l)| **l)
        .map(|(b, _)| b)
    {
        let nearest = colon_marks(ink, *band, x0, x1)
            .into_iter()
            .map(|m| (m.span.0 + m.span.1) as f32 / 2.0 / PX_PER_MM - at::COLON)
            .min_by(|p, q| p.abs().total_cmp(&q.abs()));
        found.extend(nearest.map(|x| (px_mm(band.y0 + band.y1) / 2.0, x)));
    }
    if found.len() < COLON_ROWS {
        return ColonShift::NONE;
    }
    // A line through the colons, refitted without those far from it (a stray mark taken for a
    // colon); a flat line (the plain offset) when the rows span too little height for a slope.
    let fit = |pts: &[(f32, f32)]| -> ColonShift {
        let n = pts.len() as f32;
        let y_mid = pts.iter().map(|p| p.0).sum::<f32>() / n;
        let at_mid = pts.iter().map(|p| p.1).sum::<f32>() / n;
        let syy: f32 = pts.iter().map(|p| (p.0 - y_mid).powi(2)).sum();
        let sxy: f32 = pts.iter().map(|p| (p.0 - y_mid) * (p.1 - at_mid)).sum();
        let slope = if syy > 4.0 * n { sxy / syy } else { 0.0 };
        ColonShift {
            at_mid,
            slope: slope.clamp(-MAX_COLON_SLOPE, MAX_COLON_SLOPE),
            y_mid,
        }
    };
    let mut offsets: Vec<f32> = found.iter().map(|p| p.1).collect();
    offsets.sort_by(f32::total_cmp);
    let median = offsets[offsets.len() / 2];
    // Start from the rows near the median offset (within the drift a shear can make), then fit.
    let near: Vec<(f32, f32)> = found
        .iter()
        .copied()
        .filter(|p| (p.1 - median).abs() <= MAX_COLON_DRIFT_MM)
        .collect();
    if near.len() < COLON_ROWS {
        return ColonShift::NONE;
    }
    let first = fit(&near);
    let inliers: Vec<(f32, f32)> = near
        .iter()
        .copied()
        .filter(|p| (p.1 - first.line(p.0)).abs() <= COLON_AGREE_MM)
        .collect();
    if inliers.len() < COLON_ROWS || inliers.len() * 2 <= found.len() {
        return ColonShift::NONE;
    }
    fit(&inliers)
}

/// The largest drift (mm per mm down the card) of the colons a shear can make: a card outline
/// off by a fifth of its height at one corner.
const MAX_COLON_SLOPE: f32 = 0.1;
/// How far (mm) from the median colon a row's colon may be and still be on the line.
const MAX_COLON_DRIFT_MM: f32 = 2.0;

/// A colon-like mark of a row ([`colon_marks`]).
#[derive(Debug, Clone, Copy)]
struct ColonMark {
    /// Its columns, `[a, e)` in pixels of the card.
    span: (usize, usize),
    /// Whether its two dots are of about one height. An "I" whose middle the ink map lost, just
    /// after a colon too faint to show both its dots ("Nama : I KETUT" on a photo taken at an
    /// angle), leaves a top twice its foot's height, and taken for the row's own colon it started
    /// the value after itself ([`value_start`] takes only even marks). The rows' colon line,
    /// [`colon_shift`], takes any colon-like mark: one stray mark among the rows' colons is left
    /// off its fit, and a colon whose dots blur unevenly still counts there.
    even: bool,
}

/// The colon-like marks of a row between pixel columns `x0..x1`: narrow, with ink on both sides
/// of an empty middle, each dot under half the line's height.
fn colon_marks(ink: &Ink, band: Band, x0: usize, x1: usize) -> Vec<ColonMark> {
    let cols = ink.cols(x0, x1, band.y0, band.y1);
    runs(&cols, 1, 0, 1)
        .into_iter()
        .filter_map(|(a, e)| {
            if a == 0 || e == cols.len() || px_mm(e - a) > COLON_MM {
                return None;
            }
            let prof = ink.rows(x0 + a, x0 + e, band.y0, band.y1);
            let [(a0, e0), (a1, e1)] = runs(&prof, 1, 0, 1)[..] else {
                return None;
            };
            let (upper, lower) = (e0 - a0, e1 - a1);
            (upper * 2 <= band.height() && lower * 2 <= band.height()).then_some(ColonMark {
                span: (x0 + a, x0 + e),
                even: upper.abs_diff(lower) <= 1 + upper.min(lower) / 2,
            })
        })
        .collect()
}

/// Where a labelled row's value may start (mm): just right of the row's own colon, the one
/// nearest where the colons are (`at::COLON + shift`), when the row shows one within
/// [`COLON_ANCHOR_MM`]; else the value column's left edge. A card laid out a little too large or
/// too small (a close-up cut on a side) has its values off their column by up to a letter, and
/// the column then cut off a name's first letter or took in the colon; the colon is where the
/// print says the value begins.
pub(super) fn value_start(ink: &Ink, band: Band, shift: f32) -> f32 {
    let near = at::COLON + shift;
    let (x0, x1) = (mm_px(near - COLON_ANCHOR_MM), mm_px(near + COLON_ANCHOR_MM));
    colon_marks(ink, band, x0, x1)
        .into_iter()
        .filter(|m| m.even)
        .map(|m| m.span)
        .min_by(|p, q| {
            let d = |m: &(usize, usize)| ((m.0 + m.1) as f32 / 2.0 / PX_PER_MM - near).abs();
            d(p).total_cmp(&d(q))
        })
        .map_or(at::VALUE[0] + shift, |(_, e)| px_mm(e) + COLON_GAP_MM)
}

/// The rows' labels looked for again in a label column moved left with the colons: on a card whose
/// print sits a few millimetres left of where it is laid out (a close-up's outline, its left edge
/// the photo's), a wrapped address line's print starts inside the label column as laid out and
/// made it a labelled row, so the address lost that line (4 of 300 close-ups, seed 2).
pub(super) fn relabel_with_colons(
    ink: &Ink,
    bands: &[Band],
    labelled: &mut [bool],
    colons: &ColonShift,
) {
    for (b, l) in bands.iter().zip(labelled.iter_mut()) {
        let shift = colons.at(px_mm(b.y0 + b.y1) / 2.0);
        if *l && shift < 0.0 {
            *l = has_label(ink, *b, label_column(shift));
        }
    }
}

/// Whether row `band` has a label: ink in the label column `[x0, x1]` (mm).
pub(super) fn has_label(ink: &Ink, band: Band, [x0, x1]: [f32; 2]) -> bool {
    let ink_px: u32 = ink
        .rows(mm_px(x0.max(0.0)), mm_px(x1), band.y0, band.y1)
        .iter()
        .sum();
    ink_px >= 12
}

/// How far (mm) either side of where the colons are a row's own colon is looked for.
const COLON_ANCHOR_MM: f32 = 2.0;
/// Space (mm) left after a row's colon before its value is looked for.
pub(super) const COLON_GAP_MM: f32 = 0.25;

/// How far (mm) either side of its column a colon is looked for: a card cut by the photo's edge
/// on one side and laid out from that edge is stretched, its colons up to 4 mm off (3 mm until
/// 2026-12-03: close-up NIKs 94.3 -> 97.0 %, names 93.7 -> 96.0 %).
const COLON_REACH_MM: f32 = 4.5;
/// Rows that must find their colon where the others do.
const COLON_ROWS: usize = 4;
/// How close (mm) to the median colon the others must be.
const COLON_AGREE_MM: f32 = 0.3;
/// Colons this close (mm) to their column leave the columns where they are.
const COLON_SLACK_MM: f32 = 0.4;

/// Slots the labelled rows must span for [`Grid::of`] to fit its pitch through them.
const GRID_FIT_SPAN: i64 = 4;

/// Row pitch of the labelled rows, millimetres (about 2.4 on printed cards).
const PITCH_MM: [f32; 2] = [2.0, 2.8];

/// The grid of the labelled rows: the first row's top (mm, Nama's) and the median step between
/// neighbouring labelled rows (mm), those steps within [`PITCH_MM`] only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Grid {
    first: f32,
    pitch: f32,
}

impl Grid {
    /// The grid of labelled rows with these tops (mm, top to bottom); none with no two rows one
    /// pitch apart. The median step first; then each row's slot counted step by step from Nama's
    /// (a step is a whole number of pitches give or take a pixel) and the grid fitted through
    /// them. On a small card the rows' tops are whole pixels, steps of 18 and 20 px for a pitch of
    /// 18.9: the median alone (18) put the last rows more than half a pitch off their slots.
    pub(super) fn of(lab: &[f32]) -> Option<Grid> {
        let mut steps: Vec<f32> = lab
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|g| (PITCH_MM[0]..PITCH_MM[1]).contains(g))
            .collect();
        steps.sort_by(f32::total_cmp);
        let rough = Grid {
            first: *lab.first()?,
            pitch: *steps.get(steps.len() / 2)?,
        };
        let mut slot = 0i64;
        let mut points = vec![(0.0f32, rough.first)];
        for w in lab.windows(2) {
            slot += ((w[1] - w[0]) / rough.pitch).round() as i64;
            points.push((slot as f32, w[1]));
        }
        if slot < GRID_FIT_SPAN {
            return Some(rough);
        }
        let n = points.len() as f32;
        let (sx, sy) = points
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        let (mx, my) = (sx / n, sy / n);
        let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
            (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
        });
        let pitch = sxy / sxx;
        if !(PITCH_MM[0]..PITCH_MM[1]).contains(&pitch) {
            return Some(rough);
        }
        Some(Grid {
            first: my - pitch * mx,
            pitch,
        })
    }

    /// The slot of a row with its top at `t` (mm): 0 for Nama's.
    pub(super) fn slot(self, t: f32) -> i64 {
        ((t - self.first) / self.pitch).round() as i64
    }

    /// The pixel rows of a slot: from a third of a pitch above where its top would be to a third
    /// above the next slot's.
    fn slot_rows(self, slot: i64) -> (usize, usize) {
        let top = self.first + self.pitch * slot as f32;
        (mm_px(top - 0.3 * self.pitch), mm_px(top + 0.7 * self.pitch))
    }
}

/// The tops of the labelled rows.
fn labelled_tops(tops: &[f32], labelled: &[bool]) -> Vec<f32> {
    tops.iter()
        .zip(labelled)
        .filter(|(_, l)| **l)
        .map(|(t, _)| *t)
        .collect()
}

/// The slot of the address's second line, right after Alamat's.
const WRAP_SLOT: i64 = 4;
/// The slot the last row (Berlaku Hingga) moves to when the address takes a second line.
const PAST_SLOT: i64 = ROW_KEYS.len() as i64;

/// The rows' grid ([`Grid::of`] of the labelled rows), the slots that have a band, and the last
/// labelled row's slot.
struct Slots {
    grid: Grid,
    taken: Vec<i64>,
    last: i64,
}

impl Slots {
    fn of(bands: &[Band], labelled: &[bool]) -> Option<Slots> {
        let tops: Vec<f32> = bands.iter().map(|b| px_mm(b.y0)).collect();
        let lab = labelled_tops(&tops, labelled);
        let grid = Grid::of(&lab)?;
        let last = lab.iter().map(|t| grid.slot(*t)).max().unwrap_or(0);
        let taken = tops.iter().map(|t| grid.slot(*t)).collect();
        Some(Slots { grid, taken, last })
    }

    /// Whether a band lies on slot `s`.
    fn has_band(&self, s: i64) -> bool {
        self.taken.contains(&s)
    }
}

/// The label column moved `shift` mm (left only: a card's print left of its layout).
fn label_column(shift: f32) -> [f32; 2] {
    let shift = shift.min(0.0);
    [at::LABEL[0] + shift, at::LABEL[1] + shift]
}

/// The address's further lines that are too short for [`bands`] to see: a house number wrapped
/// alone ("61" under "JL. MELATI GG. LETJEN SUPRAPTO NO.") puts a few ink pixels on each of its
/// rows where a full line puts a hundred, under the threshold [`bands`] takes from the card's
/// fullest rows. Looked for only where the grid says a line was missed: the last row (Berlaku
/// Hingga) one slot past the grid and no band on the slot after Alamat's, or two slots past and
/// no band on the second slot after it (an address of three lines, its third the number); on that
/// slot's rows alone, and taken only when its print starts at the value column, as a wrapped line
/// does (the colon's column moved by `colons`). Before this, 19 of 300 held-out scans and 15 of
/// 300 photos (seed 2) lost their address's house number this way, and a photo in 180 whose third
/// line was lost had every row below keyed one off.
pub(super) fn short_wrapped_lines(
    ink: &Ink,
    bands: &[Band],
    labelled: &[bool],
    colons: &ColonShift,
) -> Vec<Band> {
    let Some(slots) = Slots::of(bands, labelled) else {
        return Vec::new();
    };
    // The address's further lines the grid counts: one or two.
    let further = match slots.last - PAST_SLOT {
        0 => 1,
        1 => 2,
        _ => return Vec::new(),
    };
    (WRAP_SLOT..WRAP_SLOT + further)
        .filter(|&s| !slots.has_band(s))
        .filter_map(|s| short_line_on_slot(ink, slots.grid, s, colons))
        .collect()
}

/// Nama's row when its value is too short for [`bands`] to see (a name of one short word: "TRI",
/// "SRI") or lies above the rows' range (a close-up's outline cut at the top, the print moved up):
/// then the first labelled row, which the grid takes for Nama's, is Tempat/Tgl Lahir's. The slot
/// above the first labelled row is searched as [`short_line_on_slot`] does, when it has ink in its
/// label column and all its rows lie below the NIK's last (`nik_y1`, pixels): Nama's own row is
/// 1.9 mm under the NIK, so the slot above it reaches 1.3 mm into the NIK, while the slot above
/// Tempat/Tgl Lahir's starts 1 mm under it. Looked for before the address's further lines and the
/// other short rows, which count their slots from Nama's. Before this, 4 of 1,200 held-out scans
/// and photos of seed 2 had every row keyed one off, the birth line read as the name.
pub(super) fn short_name_row(
    ink: &Ink,
    bands: &[Band],
    labelled: &[bool],
    colons: &ColonShift,
    nik_y1: usize,
) -> Option<Band> {
    let grid = Slots::of(bands, labelled)?.grid;
    let (y0, y1) = grid.slot_rows(-1);
    if y0 < nik_y1 {
        return None;
    }
    let shift = colons.at(px_mm(y0 + y1) / 2.0);
    if !has_label(ink, Band { y0, y1 }, label_column(shift)) {
        return None;
    }
    short_line_on_slot(ink, grid, -1, colons).filter(|found| bands.iter().all(|b| b.y0 > found.y1))
}

/// Labelled rows whose value is too short for [`bands`] to see ("WNI", a village of three
/// letters), or whose value a card laid out a little off moved mostly out of the value column
/// (a close-up's "WNI" left of it): a slot of the grid, above its last labelled row, with no band
/// but ink in its label column, searched as [`short_line_on_slot`] does. Not the slots that tell
/// whether the address wrapped ([`PAST_SLOT`] and after, where a dark photo's stray band under
/// the last row would key every row one off): Kewarganegaraan's is at most the one before. Nor
/// Nama's ([`short_name_row`]).
pub(super) fn short_labelled_rows(
    ink: &Ink,
    bands: &[Band],
    labelled: &[bool],
    colons: &ColonShift,
) -> Vec<Band> {
    let Some(slots) = Slots::of(bands, labelled) else {
        return Vec::new();
    };
    let (grid, last) = (slots.grid, slots.last);
    // The address's further lines, when the grid counts any, have no label.
    let wraps = WRAP_SLOT..WRAP_SLOT + (last - PAST_SLOT + 1).clamp(0, 2);
    (1..last.min(PAST_SLOT))
        .filter(|&s| !slots.has_band(s) && !wraps.contains(&s))
        .filter(|&s| {
            let (y0, y1) = grid.slot_rows(s);
            let shift = colons.at(px_mm(y0 + y1) / 2.0);
            has_label(ink, Band { y0, y1 }, label_column(shift))
        })
        .filter_map(|s| short_line_on_slot(ink, grid, s, colons))
        // A slot the grid places a little off (its pitch from rows a pixel apart, the error grown
        // down the card) may find the edge of a row already there.
        .filter(|found| {
            bands
                .iter()
                .all(|b| px_mm(b.y0.abs_diff(found.y0)) >= SHORT_ROW_APART * grid.pitch)
        })
        .collect()
}

/// How far (pitches) a labelled row found by [`short_labelled_rows`] must be from every row found.
const SHORT_ROW_APART: f32 = 0.6;

/// The print on one slot of the grid with as little as a few ink pixels per row, if it starts at
/// the value column ([`short_wrapped_lines`], [`short_labelled_rows`]).
fn short_line_on_slot(ink: &Ink, grid: Grid, slot: i64, colons: &ColonShift) -> Option<Band> {
    let (y0, y1) = grid.slot_rows(slot);
    let shift = colons.at(px_mm(y0 + y1) / 2.0).min(0.0);
    let prof = ink.rows(mm_px(at::VALUE[0] + shift), mm_px(at::VALUE[1]), y0, y1);
    let (a, b) = runs(&prof, 2, 1, 5)
        .into_iter()
        .max_by_key(|r| prof[r.0..r.1].iter().sum::<u32>())?;
    let band = Band {
        y0: y0 + a,
        y1: y0 + b,
    };
    if band.height() as f32 > 3.2 * PX_PER_MM {
        return None;
    }
    let start = at::VALUE[0] + colons.at(px_mm(band.y0 + band.y1) / 2.0);
    let (x0, _) = extent(ink, band, [start - 1.0, at::VALUE[1]], 2.5, false)?;
    (px_mm(x0) < start + WRAP_INDENT_MM).then_some(band)
}

/// Where a line's capitals begin (pixels): the top of its ink, or, when its ink is shorter than
/// the card's cap height by more than [`SHORT_INK_PX`], the cap height centred on the ink. A line
/// of a few digits ("146", the house number an address wrapped) shows little ink in its top rows
/// (the point of a 4, the arc of a 6), which the ink threshold loses: cut from there, it was cut
/// a quarter of its height too low and read as "49".
pub(super) fn line_top(band: Band, cap: f32) -> usize {
    let h = band.height() as f32;
    if h + SHORT_INK_PX < cap {
        (band.y0 as f32 + 0.5 * (h - cap)).round().max(0.0) as usize
    } else {
        band.y0
    }
}

/// How many pixels of the cap height a line's ink may miss before it is centred instead.
const SHORT_INK_PX: f32 = 1.5;

/// How far (mm) left of the address's first letter its further lines are looked for.
const WRAP_MARGIN_MM: f32 = 0.5;

/// How far (mm) right of the value column a wrapped address line's print may start.
const WRAP_INDENT_MM: f32 = 1.5;

/// The key of each row band (tops in millimetres, whether the label column has ink), from its
/// place on the row grid: the first labelled row is Nama, the pitch is the median step between
/// neighbouring labelled rows, and bands right below Alamat without a label are the address's
/// further lines (one or two), each of which moves every later row down one step. A row whose label or value was lost
/// (glare, a thumb) then costs only that row, not every row after it. Too few rows to measure a
/// pitch: the labelled rows in order.
pub(super) fn keys_by_position(tops: &[f32], labelled: &[bool]) -> Vec<Option<&'static str>> {
    let lab = labelled_tops(tops, labelled);
    let Some(grid) = Grid::of(&lab) else {
        let mut next = 0;
        return labelled
            .iter()
            .map(|&l| {
                l.then(|| {
                    next += 1;
                    ROW_KEYS.get(next - 1).copied()
                })
                .flatten()
            })
            .collect();
    };
    let slot = |t: f32| grid.slot(t);
    // The address's further lines. Its second: an unlabelled band on the slot right after
    // Alamat's, or the last row pushed one slot past the grid (the wrapped line itself not
    // found). A third (a long address now and then): an unlabelled band on the next slot too, and
    // the last row two slots past the grid; on a dark, noisy photo a stray band is likelier than
    // a third line, and taking one would key every row below it one off.
    let unlabelled_at = |s: i64| tops.iter().zip(labelled).any(|(t, l)| !l && slot(*t) == s);
    let labelled_at = |s: i64| lab.iter().any(|t| slot(*t) == s);
    let second = unlabelled_at(WRAP_SLOT) || labelled_at(PAST_SLOT);
    let third = second && unlabelled_at(WRAP_SLOT + 1) && labelled_at(PAST_SLOT + 1);
    let wraps = i64::from(second) + i64::from(third);
    let mut taken = [false; ROW_KEYS.len() + 1];
    tops.iter()
        .zip(labelled)
        .map(|(&t, &l)| {
            let s = slot(t);
            let in_wrap = (WRAP_SLOT..WRAP_SLOT + wraps).contains(&s);
            let key_slot = match (l, in_wrap) {
                (false, true) => return Some("address"),
                (false, false) => return None,
                (true, true) => return None,
                (true, false) if s >= WRAP_SLOT + wraps => s - wraps,
                (true, false) => s,
            };
            let k = usize::try_from(key_slot)
                .ok()
                .filter(|&k| k < ROW_KEYS.len())?;
            if std::mem::replace(&mut taken[k], true) {
                return None;
            }
            Some(ROW_KEYS[k])
        })
        .collect()
}

/// Where (mm) a Gol. Darah value may start when its colon is not seen: the colon is printed at
/// 54.2 mm or, after a wide face's label, further right; its value 1.4 mm after it.
const BLOOD_VALUE_FROM_MM: f32 = 54.6;

/// Gol. Darah's value on the Jenis Kelamin row: the ink right of the label's colon (letters of one
/// value sit closer together than the colon to the value).
pub(super) fn blood_type(ink: &Ink, band: Band, cap: f32) -> LineBox {
    let (x0, x1) = (mm_px(at::BLOOD_X[0]), mm_px(at::BLOOD_X[1]));
    let b = Band {
        y0: band.y0.saturating_sub(1),
        y1: band.y0 + cap.round() as usize + 2,
    };
    let cols = ink.cols(x0, x1, b.y0, b.y1);
    let groups = runs(&cols, 1, (0.45 * PX_PER_MM) as usize, 1);
    // A colon is narrow, spans more than half the cap height and is two dots: empty between
    // them. (On a dim card the value "B" or "O" may leave only its left stroke as ink, as narrow
    // and as tall as a colon; taken for one, it put the value's box on the blank card after it
    // and the reader returned "-", sure: 3 of 300 hard cards, seed 5.)
    let is_colon = |g: &(usize, usize)| {
        let (top, bottom) = vertical(ink, b, x0 + g.0, x0 + g.1);
        let dots = runs(&ink.rows(x0 + g.0, x0 + g.1, top, bottom), 1, 0, 1);
        (g.1 - g.0) as f32 <= 0.6 * PX_PER_MM
            && (bottom - top) as f32 >= 0.45 * cap
            && dots.len() >= 2
    };
    // The value: what follows the last colon, at most a blood type's width (AB+ is about 4 mm),
    // leaving out ink at the window's right end (the photo's edge when the card is cut a little
    // off). With no colon seen (a dim card's colon is too faint to show two dots), the value is
    // the heaviest mark right of where the colon is printed ([`BLOOD_VALUE_FROM_MM`]): the last
    // one was a speck of noise after the value on a dim card, and the reader returned "-", sure.
    let near_end = |g: &(usize, usize)| g.1 + 1 >= cols.len() && g.1 - g.0 <= 3;
    let weight = |g: &(usize, usize)| cols[g.0..g.1].iter().sum::<u32>();
    let from = mm_px(BLOOD_VALUE_FROM_MM).saturating_sub(x0);
    let heaviest = || {
        (0..groups.len())
            .filter(|&i| groups[i].0 >= from && !near_end(&groups[i]))
            .max_by_key(|&i| weight(&groups[i]))
    };
    let after = match groups.iter().rposition(is_colon) {
        Some(i) => i + 1,
        None => heaviest().unwrap_or(groups.len().saturating_sub(1)),
    };
    let value: Vec<&(usize, usize)> = groups[after..].iter().filter(|g| !near_end(g)).collect();
    let (s, e) = match value.first() {
        Some(first) => {
            let end = value
                .iter()
                .filter(|g| g.0 <= first.0 + (4.5 * PX_PER_MM) as usize)
                .map(|g| g.1)
                .max()
                .unwrap_or(first.1);
            (x0 + first.0, x0 + end)
        }
        // Nothing after the colon (or no ink at all): a blank box where the value would be.
        None => {
            let s = groups[..after]
                .last()
                .map_or(x0 + (1.0 * PX_PER_MM) as usize, |g| x0 + g.1 + 2);
            (s, (s + (2.5 * PX_PER_MM) as usize).min(x1.max(s + 1)))
        }
    };
    LineBox {
        key: "blood_type",
        rect: line_rect(s, e, band.y0, cap),
        cut: false,
    }
}

/// Whether a value line whose ink ends at `x1` (px) goes on faintly before its column ends at
/// `end`: at least [`CUT_STROKES`] columns there hold faint ink (`ink::FAINT_INK`) at least half the
/// band's height, a few letters' strokes. Glare over the right half of an address's first line
/// left "GG. PROF. DR." faint: the line's box ended at "DAHLAN", the recogniser read what it held
/// sure, and the address came back sure without three of its words (seed 5, photo 14).
pub(super) fn continues_faintly(ink: &Ink, band: Band, x1: usize, end: usize) -> bool {
    let tall = (band.height() as u32).div_ceil(2);
    let strokes = ink
        .faint_cols(x1 + 1, end, band.y0, band.y1)
        .iter()
        .filter(|&&c| c >= tall)
        .count();
    strokes >= CUT_STROKES
}

/// The lines looked at for print going on past their box ([`continues_faintly`]): the free text
/// of the rows beside the photo. Right of the rows below it the issue place and date reach into
/// the value column (a long regency's name, centred under the photo), and the closed
/// vocabularies there are snapped to a value anyway: with every row looked at (a try), 31 right
/// values of 300 hard cards (seed 2) were no longer sure.
const CUT_KEYS: [&str; 3] = ["name", "birth", "address"];
/// Faint stroke columns past a line's end from which the line may be cut ([`continues_faintly`]).
const CUT_STROKES: usize = 4;
