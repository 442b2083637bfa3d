//! The ink map of a rectified card (what is darker than its 3 mm neighbourhood by a share of the
//! card's text contrast), its row and column profiles, and the bands of ink rows they show.

use image::GrayImage;

use super::{PX_PER_MM, at};

/// The ink map of a rectified card: how much darker each pixel is than its neighbourhood mean,
/// thresholded; and the threshold's basis, the card's text contrast.
#[derive(Debug)]
pub struct Ink {
    pub(super) w: usize,
    pub(super) h: usize,
    /// Integral of the ink bitmap, `(w + 1) x (h + 1)`: box counts in four lookups.
    sum: Vec<u32>,
    /// The same for faint ink, at [`FAINT_INK`] of the contrast: where a line's thin first or last
    /// letter, blurred, still shows (`lines::faint_edge`).
    faint: Vec<u32>,
    /// 98th percentile of darkness below the local mean in the value column (grey levels).
    pub contrast: f32,
}

impl Ink {
    pub fn new(img: &GrayImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let raw = img.as_raw();
        // Integral image for box means (a card of 685 x 432 grey levels sums to well under 2^32).
        let s = w + 1;
        let mut integral = vec![0u32; s * (h + 1)];
        for y in 0..h {
            let mut row = 0u32;
            let (above, here) = integral.split_at_mut((y + 1) * s);
            let above = &above[y * s..];
            for (x, &p) in raw[y * w..(y + 1) * w].iter().enumerate() {
                row += u32::from(p);
                here[x + 1] = above[x + 1] + row;
            }
        }
        let r = (1.5 * PX_PER_MM) as usize;
        // Each column's box bounds, and 1 / area for every box size, so the loop neither clamps nor
        // divides.
        let spans: Vec<(usize, usize)> = (0..w)
            .map(|x| (x.saturating_sub(r), (x + r + 1).min(w)))
            .collect();
        let inv: Vec<f32> = (0..=(2 * r + 1) * (2 * r + 1))
            .map(|n| 1.0 / n.max(1) as f32)
            .collect();
        let mut dark = vec![0f32; w * h];
        for y in 0..h {
            let (ya, yb) = (y.saturating_sub(r), (y + r + 1).min(h));
            let (top, bottom) = (&integral[ya * s..ya * s + s], &integral[yb * s..yb * s + s]);
            let rows = yb - ya;
            // A pixel is as dark as it and its 3 x 3 neighbourhood both are: the grain of a noisy
            // photo is not ink, and a stroke keeps its width.
            let (pa, pb) = (y.saturating_sub(1), (y + 2).min(h));
            let (ptop, pbottom) = (&integral[pa * s..pa * s + s], &integral[pb * s..pb * s + s]);
            let prows = pb - pa;
            let line = &raw[y * w..(y + 1) * w];
            for (x, ((d, &(xa, xb)), &own)) in dark[y * w..(y + 1) * w]
                .iter_mut()
                .zip(&spans)
                .zip(line)
                .enumerate()
            {
                let sum = bottom[xb] + top[xa] - top[xb] - bottom[xa];
                let mean = sum as f32 * inv[rows * (xb - xa)];
                let (qa, qb) = (x.saturating_sub(1), (x + 2).min(w));
                let here = pbottom[qb] + ptop[qa] - ptop[qb] - pbottom[qa];
                let p = here as f32 * inv[prows * (qb - qa)];
                *d = (mean - p.max(f32::from(own))).max(0.0);
            }
        }
        // 98th percentile of the darkness over the text area, from a histogram (grey levels).
        let mut hist = [0u32; 256];
        let (x0, x1) = (mm_px(at::VALUE[0]), mm_px(at::VALUE[1]).min(w));
        let (y0, y1) = (mm_px(at::NIK_Y[0]), mm_px(at::ROWS_Y[1]).min(h));
        for y in (y0..y1).step_by(2) {
            for x in (x0..x1).step_by(2) {
                hist[dark[y * w + x].min(255.0) as usize] += 1;
            }
        }
        let contrast = percentile(&hist, 0.98);
        let integral_over = |t: f32| {
            let mut sum = vec![0u32; (w + 1) * (h + 1)];
            for y in 0..h {
                let mut row = 0u32;
                for x in 0..w {
                    row += u32::from(dark[y * w + x] > t);
                    sum[(y + 1) * (w + 1) + x + 1] = sum[y * (w + 1) + x + 1] + row;
                }
            }
            sum
        };
        Ink {
            w,
            h,
            sum: integral_over((0.4 * contrast).max(6.0)),
            faint: integral_over((FAINT_INK * contrast).max(6.0)),
            contrast,
        }
    }

    /// Faint ink pixels ([`FAINT_INK`]) per column over rows `y0..y1`, for columns `x0..x1`.
    pub(super) fn faint_cols(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> Vec<u32> {
        (x0..x1.min(self.w))
            .map(|x| self.boxed(&self.faint, x, x + 1, y0, y1))
            .collect()
    }

    /// Ink pixels in columns `x0..x1` and rows `y0..y1` (clamped to the card).
    pub(super) fn count(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> u32 {
        self.boxed(&self.sum, x0, x1, y0, y1)
    }

    /// Pixels of integral `table` ([`Ink::sum`] or [`Ink::faint`]) in columns `x0..x1` and rows
    /// `y0..y1` (clamped to the card).
    fn boxed(&self, table: &[u32], x0: usize, x1: usize, y0: usize, y1: usize) -> u32 {
        let (x1, y1) = (x1.min(self.w), y1.min(self.h));
        if x0 >= x1 || y0 >= y1 {
            return 0;
        }
        let s = self.w + 1;
        table[y1 * s + x1] + table[y0 * s + x0] - table[y0 * s + x1] - table[y1 * s + x0]
    }

    /// Ink pixels per row over columns `x0..x1`, for rows `y0..y1`.
    pub(super) fn rows(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> Vec<u32> {
        (y0..y1.min(self.h))
            .map(|y| self.count(x0, x1, y, y + 1))
            .collect()
    }

    /// Ink pixels per column over rows `y0..y1`, for columns `x0..x1`.
    pub(super) fn cols(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> Vec<u32> {
        (x0..x1.min(self.w))
            .map(|x| self.count(x, x + 1, y0, y1))
            .collect()
    }
}

/// The value at quantile `q` of a 256-bin histogram (bin centres).
pub(super) fn percentile(hist: &[u32; 256], q: f64) -> f32 {
    let total: u64 = hist.iter().map(|&c| u64::from(c)).sum();
    let want = (total as f64 * q) as u64;
    let mut acc = 0u64;
    for (i, &c) in hist.iter().enumerate() {
        acc += u64::from(c);
        if acc > want {
            return i as f32 + 0.5;
        }
    }
    255.5
}

pub(super) fn mm_px(mm: f32) -> usize {
    (mm * PX_PER_MM).round().max(0.0) as usize
}

pub(super) fn px_mm(px: usize) -> f32 {
    px as f32 / PX_PER_MM
}

/// Runs `[start, end)` of indexes whose value is at least `min`, with gaps of up to `bridge`
/// closed and runs shorter than `min_len` dropped.
pub(super) fn runs(
    profile: &[u32],
    min: u32,
    bridge: usize,
    min_len: usize,
) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < profile.len() {
        if profile[i] >= min {
            let s = i;
            while i < profile.len() && profile[i] >= min {
                i += 1;
            }
            match out.last_mut() {
                Some(last) if s - last.1 <= bridge => last.1 = i,
                _ => out.push((s, i)),
            }
        } else {
            i += 1;
        }
    }
    out.retain(|r| r.1 - r.0 >= min_len);
    out
}

/// A text band: rows `y0..y1` of the rectified card.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Band {
    pub(super) y0: usize,
    pub(super) y1: usize,
}

impl Band {
    pub(super) fn height(&self) -> usize {
        self.y1 - self.y0
    }
}

pub(super) fn bands(ink: &Ink, x: [f32; 2], y: [f32; 2]) -> Vec<Band> {
    let (x0, x1, y0, y1) = (mm_px(x[0]), mm_px(x[1]), mm_px(y[0]), mm_px(y[1]));
    let prof = ink.rows(x0, x1, y0, y1);
    let mut sorted = prof.clone();
    sorted.sort_unstable();
    let p90 = sorted.get(sorted.len() * 9 / 10).copied().unwrap_or(0);
    let min = (p90 / 6).max(3);
    runs(&prof, min, 1, 4)
        .into_iter()
        .map(|(a, b)| Band {
            y0: y0 + a,
            y1: y0 + b,
        })
        .collect()
}

/// Darkness (share of the card's text contrast) counted as faint ink; ink is 0.4. Both at least 6
/// grey levels: on a dim card (contrast under 30) the grain itself is faint ink, and a line's box
/// widened onto it read "WNI" as "WNU" (6 of 300 hard cards, seed 2, in a try with a floor of 3),
/// so there is no faint ink.
const FAINT_INK: f32 = 0.2;
