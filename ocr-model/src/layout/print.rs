//! The print on a card as a whole: its skew and extent, for close-ups whose outline is outside the
//! photo and photocopies that show no edge of the card.

use image::GrayImage;

use crate::geom::Quad;

use super::CARD_MM;
use super::ink::Ink;

/// The print of a photo: `(x, y)` of every pixel darker than its neighbourhood ([`Ink`]), found
/// once and measured for the skew of its lines ([`Print::skew`]) and for where a card without an
/// outline lies around it ([`Print::box_guesses`]).
#[derive(Debug)]
pub struct Print {
    pts: Vec<(f32, f32)>,
    w: u32,
    h: u32,
}

impl Print {
    pub fn of(g: &GrayImage) -> Self {
        let (w, h) = (g.width() as usize, g.height() as usize);
        let ink = Ink::new(g);
        let mut pts = Vec::new();
        for y in 0..h {
            for x in 0..w {
                if ink.count(x, x + 1, y, y + 1) > 0 {
                    pts.push((x as f32, y as f32));
                }
            }
        }
        Print {
            pts,
            w: g.width(),
            h: g.height(),
        }
    }

    /// The angle (radians, y down) at which this print runs, within [`MAX_SKEW_DEG`] of the
    /// photo's rows (`along_columns`: of its columns, as dx/dy): the shear that stacks the print
    /// into the sharpest row profile. For a close-up or a copy, whose card outline is not in the
    /// photo.
    pub fn skew(&self, along_columns: bool) -> f32 {
        let (w, h) = (self.w as usize, self.h as usize);
        // (along, across) coordinates of every print pixel: across is what the lines stack on.
        let pts: Vec<(f32, f32)> = self
            .pts
            .iter()
            .map(|&(x, y)| if along_columns { (y, x) } else { (x, y) })
            .collect();
        let span = if along_columns { w } else { h };
        let reach = (if along_columns { h } else { w }) as f32;
        let mut best = (0.0f32, f64::NEG_INFINITY);
        let mut hist = Vec::new();
        let steps = (2.0 * MAX_SKEW_DEG / SKEW_STEP_DEG).round() as i32;
        for k in 0..=steps {
            let angle = (-MAX_SKEW_DEG + k as f32 * SKEW_STEP_DEG).to_radians();
            let t = angle.tan();
            // Shifted so every sheared row index is non-negative.
            let off = (reach * t.abs()).ceil();
            hist.clear();
            hist.resize(span + 2 * off as usize + 2, 0u32);
            for &(a, c) in &pts {
                let r = (c - a * t + off).round();
                if r >= 0.0 && (r as usize) < hist.len() {
                    hist[r as usize] += 1;
                }
            }
            let score: f64 = hist.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            if score > best.1 {
                best = (angle, score);
            }
        }
        best.0
    }

    /// Where the card may be in a photo that shows its print but not its outline: a photocopy
    /// of a KTP (the fotokopi a patient brings), or a card scanned on white paper that the
    /// scanner washed out. The print is measured along and across its lines, taken both along the
    /// photo's rows and along its columns (a copy photographed either way), each at its skew; on
    /// a KTP it spans 3.2-81.6 mm of the card's width (labels to the photo's right edge) and is
    /// about centred on its height. The card is guessed from the print's width, and from its
    /// height where that tells another size (a photo left pale on the copy ends the print at the
    /// values' right edge). Corners in the photo's pixels (TL, TR, BR, BL as the print reads, or
    /// turned by two: [`rectify`](super::rectify)'s upside-down check tells). Empty when there is too little
    /// print to measure.
    pub fn box_guesses(&self) -> Vec<Quad> {
        let (w, h, pts) = (self.w, self.h, &self.pts);
        if pts.len() < PRINT_MIN_PIXELS {
            return Vec::new();
        }
        let mut out = Vec::new();
        // The photo's larger side first: a copy is most often photographed along it.
        let mut ways = [false, true];
        if h > w {
            ways.reverse();
        }
        for along_columns in ways {
            // Lines along the rows (dy/dx = tan skew) or along the columns (dx/dy = tan skew).
            let skew = self.skew(along_columns);
            let theta = if along_columns {
                std::f32::consts::FRAC_PI_2 - skew
            } else {
                skew
            };
            let (sin, cos) = theta.sin_cos();
            let (us, vs): (Vec<f32>, Vec<f32>) = pts
                .iter()
                .map(|&(x, y)| (x * cos + y * sin, -x * sin + y * cos))
                .unzip();
            let (Some((u0, u1)), Some((v0, v1))) = (print_extent(&us), print_extent(&vs)) else {
                continue;
            };
            let by_width = (u1 - u0) / (PRINT_X_MM[1] - PRINT_X_MM[0]);
            let by_height = (v1 - v0) / (PRINT_Y_MM[1] - PRINT_Y_MM[0]);
            let mut scales = vec![by_width];
            if (by_height / by_width - 1.0).abs() > 0.03 {
                scales.push(by_height);
            }
            let (uc, vc) = ((u0 + u1) / 2.0, (v0 + v1) / 2.0);
            for s in scales {
                if !(s.is_finite() && s > 0.0) {
                    continue;
                }
                // The print's box is centred on the card along and across the lines, near enough
                // for the layout (which finds the rows and columns itself) to take it from there.
                let (hu, hv) = (CARD_MM[0] * s / 2.0, CARD_MM[1] * s / 2.0);
                let corner = |du: f32, dv: f32| {
                    let (u, v) = (uc + du, vc + dv);
                    [u * cos - v * sin, u * sin + v * cos]
                };
                out.push([
                    corner(-hu, -hv),
                    corner(hu, -hv),
                    corner(hu, hv),
                    corner(-hu, hv),
                ]);
            }
        }
        out
    }
}

/// Where the print lies along one axis: the first and last pixel-wide bins holding at least a
/// tenth as many print pixels as a busy bin of the print (the 90th percentile, smoothed over five
/// bins), so that toner specks and grain scattered over the page do not widen it.
pub(super) fn print_extent(coords: &[f32]) -> Option<(f32, f32)> {
    let lo = coords.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = coords.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !(lo.is_finite() && hi.is_finite()) {
        return None;
    }
    let mut bins = vec![0u32; (hi - lo) as usize + 1];
    for &c in coords {
        bins[(c - lo) as usize] += 1;
    }
    let smooth: Vec<u32> = (0..bins.len())
        .map(|i| {
            bins[i.saturating_sub(2)..(i + 3).min(bins.len())]
                .iter()
                .sum()
        })
        .collect();
    let mut busy: Vec<u32> = smooth.iter().copied().filter(|&n| n > 0).collect();
    busy.sort_unstable();
    let p90 = *busy.get(busy.len() * 9 / 10)?;
    let floor = (p90 / 10).max(4);
    let first = smooth.iter().position(|&n| n >= floor)?;
    let last = smooth.iter().rposition(|&n| n >= floor)?;
    Some((lo + first as f32, lo + last as f32 + 1.0))
}

/// Too few print pixels to measure a card by.
const PRINT_MIN_PIXELS: usize = 400;
/// Where a KTP's print spans across the card (the labels' left edge, the photo's right edge) and
/// down it (the header's capitals, the signature's foot), in millimetres.
pub(super) const PRINT_X_MM: [f32; 2] = [3.2, 81.6];
pub(super) const PRINT_Y_MM: [f32; 2] = [2.5, 50.5];

/// The widest skew [`Print::skew`] looks for, and its step (degrees).
const MAX_SKEW_DEG: f32 = 8.0;
const SKEW_STEP_DEG: f32 = 0.5;
