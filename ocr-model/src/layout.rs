//! Locating the text lines of a found card on the known e-KTP layout, and cutting them out.
//!
//! The card is rectified to [`PX_PER_MM`] pixels per millimetre (85.6 x 54 mm) through the
//! homography of its corners. Ink is what is darker than its 3 mm neighbourhood by more than a
//! share of the card's text contrast, so the faint security print drops out. Text rows are bands
//! of the ink profile in fixed columns of the layout:
//! - the two centred header lines (PROVINSI ..., KABUPATEN/KOTA ...) above 10 mm;
//! - the NIK, the tallest band near 13 mm, right of its label;
//! - the twelve labelled rows (Nama ... Berlaku Hingga) in the value column from 25 mm, keyed by
//!   their place on the row grid. A band without ink in the label column one step below Alamat is
//!   the address's second line;
//! - Gol. Darah on the Jenis Kelamin row, right of its colon.
//!
//! Each line's box is then cut the way the recogniser was trained (`training/README.md`): from
//! 0.35 cap heights above the capitals to 0.45 below the baseline, a quarter of a line height beyond
//! the ink on either side, sampled straight from the photo (from a pyramid level near the training
//! resolution) at 32 pixels high.

use image::GrayImage;

use crate::geom::{Homography, Quad, rect_quad};

/// Resolution of the rectified card used to find the lines.
pub const PX_PER_MM: f32 = 8.0;
/// Card size in millimetres.
pub const CARD_MM: [f32; 2] = [85.6, 54.0];

/// Where the layout puts things, in millimetres from the card's top-left corner.
mod at {
    /// Value column of the labelled rows (start of the value, right edge before the photo).
    pub const VALUE: [f32; 2] = [24.6, 62.2];
    /// Label column of the labelled rows (up to just before the colons at 23.6 mm).
    pub const LABEL: [f32; 2] = [3.0, 23.0];
    /// The colons between the labels and the values.
    pub const COLON: f32 = 23.6;
    /// The NIK value (after its colon at 16.6 mm).
    pub const NIK_X: [f32; 2] = [18.6, 62.2];
    /// Rows start below the NIK and end above the card's bottom edge.
    pub const ROWS_Y: [f32; 2] = [15.0, 52.5];
    /// The NIK band lies in this range.
    pub const NIK_Y: [f32; 2] = [9.5, 16.8];
    /// Header lines: centred, above the NIK.
    pub const HEADER_X: [f32; 2] = [4.0, 81.6];
    pub const HEADER_Y: [f32; 2] = [1.2, 10.4];
    /// Jenis Kelamin's value ends before the Gol. Darah label at 44.5 mm.
    pub const SEX_END: f32 = 44.0;
    /// Gol. Darah's label starts at 44.5 mm, its colon at 54.2 mm or right of it, then the value.
    pub const BLOOD_X: [f32; 2] = [52.0, 62.2];
    /// The photo, for telling an upside-down card.
    pub const PHOTO: [f32; 4] = [63.4, 12.0, 81.6, 36.0];
}

/// Field keys of the labelled rows, top to bottom (the address may take a second line).
pub const ROW_KEYS: [&str; 12] = [
    "name",
    "birth",
    "sex",
    "address",
    "rt_rw",
    "village",
    "district",
    "religion",
    "marital_status",
    "occupation",
    "nationality",
    "valid_until",
];

/// Grey levels and their pyramid, for sampling at about the needed resolution.
#[derive(Debug)]
pub struct Pyramid {
    levels: Vec<GrayImage>,
}

impl Pyramid {
    /// Level 0 is `gray`; each next level halves it (2x2 mean) while it stays at least 64 pixels.
    pub fn new(gray: GrayImage) -> Self {
        let mut levels = vec![gray];
        loop {
            let last = &levels[levels.len() - 1];
            let (w, h) = (last.width() / 2, last.height() / 2);
            if w < 64 || h < 64 || levels.len() >= 6 {
                break;
            }
            let mut next = GrayImage::new(w, h);
            let (src, sw) = (last.as_raw(), last.width() as usize);
            // Row by row (no division per pixel), so the compiler vectorises it.
            for (y, row) in next.as_mut().chunks_exact_mut(w as usize).enumerate() {
                let top = &src[2 * y * sw..2 * y * sw + 2 * row.len()];
                let bottom = &src[(2 * y + 1) * sw..(2 * y + 1) * sw + 2 * row.len()];
                for ((p, t), b) in row
                    .iter_mut()
                    .zip(top.chunks_exact(2))
                    .zip(bottom.chunks_exact(2))
                {
                    let s = u16::from(t[0]) + u16::from(t[1]) + u16::from(b[0]) + u16::from(b[1]);
                    *p = ((s + 2) / 4) as u8;
                }
            }
            levels.push(next);
        }
        Pyramid { levels }
    }

    /// The full-resolution image.
    pub fn base(&self) -> &GrayImage {
        &self.levels[0]
    }

    /// The finest level whose longer side is at most `max_side` (the coarsest if none is).
    pub fn coarse(&self, max_side: u32) -> &GrayImage {
        self.levels
            .iter()
            .find(|l| l.width().max(l.height()) <= max_side)
            .unwrap_or(&self.levels[self.levels.len() - 1])
    }

    /// The coarsest level that keeps at least `min_px_per_mm`, given the card's resolution in the
    /// full image, and that level's scale (1, 1/2, 1/4, ...).
    fn level_for(&self, image_px_per_mm: f32, min_px_per_mm: f32) -> (&GrayImage, f32) {
        let mut pick = 0;
        for l in 1..self.levels.len() {
            if image_px_per_mm / (1u32 << l) as f32 >= min_px_per_mm {
                pick = l;
            }
        }
        (&self.levels[pick], 1.0 / (1u32 << pick) as f32)
    }
}

/// Fills `out` with the photo sampled (bilinear, from `src` at `scale` of the full image) along one
/// row of card millimetres: `y_mm`, from `x_mm` in steps of `dx_mm`. The homography is evaluated
/// exactly every [`WARP_BLOCK`] pixels and linearly in between (the perspective bends a 16-pixel
/// run by far less than a pixel), which saves a division per pixel.
fn warp_row(
    src: &GrayImage,
    scale: f32,
    h: &Homography,
    y_mm: f32,
    x_mm: f32,
    dx_mm: f32,
    out: &mut [u8],
) {
    let (w, hh) = (src.width() as usize, src.height() as usize);
    let (xmax, ymax) = ((w - 1) as f32, (hh - 1) as f32);
    let raw = src.as_raw();
    let at = |i: usize| {
        let p = h.apply([x_mm + i as f32 * dx_mm, y_mm]);
        [p[0] * scale - 0.5, p[1] * scale - 0.5]
    };
    let mut start = at(0);
    for (b, chunk) in out.chunks_mut(WARP_BLOCK).enumerate() {
        let end = at((b + 1) * WARP_BLOCK);
        let step = [
            (end[0] - start[0]) / WARP_BLOCK as f32,
            (end[1] - start[1]) / WARP_BLOCK as f32,
        ];
        // The block's samples lie on the segment from `start` towards `end`: when both ends are
        // inside the image with a pixel to spare, so is every sample, and the block runs in
        // fixed point (16 fractional bits, weights of 8) without clamping.
        let inside =
            |p: [f32; 2]| p[0] >= 0.0 && p[1] >= 0.0 && p[0] < xmax - 1.0 && p[1] < ymax - 1.0;
        if inside(start) && inside(end) {
            let fixed = |v: f32| (v * 65536.0) as i32;
            let (mut fx, mut fy) = (fixed(start[0]), fixed(start[1]));
            let (sx, sy) = (fixed(step[0]), fixed(step[1]));
            for o in chunk.iter_mut() {
                let (x0, y0) = ((fx >> 16) as usize, (fy >> 16) as usize);
                let (tx, ty) = (((fx >> 8) & 255) as u32, ((fy >> 8) & 255) as u32);
                let r0 = &raw[y0 * w + x0..y0 * w + x0 + 2];
                let r1 = &raw[(y0 + 1) * w + x0..(y0 + 1) * w + x0 + 2];
                let a = u32::from(r0[0]) * (256 - tx) + u32::from(r0[1]) * tx;
                let c = u32::from(r1[0]) * (256 - tx) + u32::from(r1[1]) * tx;
                *o = ((a * (256 - ty) + c * ty + 32768) >> 16) as u8;
                fx += sx;
                fy += sy;
            }
        } else {
            let (mut fx, mut fy) = (start[0], start[1]);
            for o in chunk.iter_mut() {
                let px = fx.clamp(0.0, xmax);
                let py = fy.clamp(0.0, ymax);
                let (x0, y0) = (px as usize, py as usize);
                let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(hh - 1));
                let (tx, ty) = (px - x0 as f32, py - y0 as f32);
                let (r0, r1) = (y0 * w, y1 * w);
                let (p00, p01) = (f32::from(raw[r0 + x0]), f32::from(raw[r0 + x1]));
                let (p10, p11) = (f32::from(raw[r1 + x0]), f32::from(raw[r1 + x1]));
                let a = p00 + (p01 - p00) * tx;
                let c = p10 + (p11 - p10) * tx;
                *o = (a + (c - a) * ty + 0.5).clamp(0.0, 255.0) as u8;
                fx += step[0];
                fy += step[1];
            }
        }
        start = end;
    }
}

/// Output pixels between exact evaluations of the homography in [`warp_row`].
const WARP_BLOCK: usize = 16;

/// A card straightened to [`PX_PER_MM`], with the map from card millimetres to photo pixels.
#[derive(Debug)]
pub struct Rectified {
    /// The card at `PX_PER_MM` (about 685 x 432 pixels).
    pub image: GrayImage,
    /// Card millimetres to full-resolution photo pixels.
    pub card_to_image: Homography,
    /// The card's resolution in the photo (pixels per millimetre along its top edge).
    pub image_px_per_mm: f32,
}

fn corners_mm() -> Quad {
    rect_quad(0.0, 0.0, CARD_MM[0], CARD_MM[1])
}

/// Straightens the card with corners `corners` (TL, TR, BR, BL); `None` for a degenerate quad.
/// When `flip` is set the card is taken as upside down (corners rotated by two).
pub fn rectify(pyr: &Pyramid, corners: &Quad, flip: bool) -> Option<Rectified> {
    let c = if flip {
        [corners[2], corners[3], corners[0], corners[1]]
    } else {
        *corners
    };
    let card_to_image = Homography::from_quads(&corners_mm(), &c)?;
    let top = crate::geom::dist(c[0], c[1]);
    let image_px_per_mm = top / CARD_MM[0];
    let (src, scale) = pyr.level_for(image_px_per_mm, PX_PER_MM);
    let (w, h) = (
        (CARD_MM[0] * PX_PER_MM).round() as u32,
        (CARD_MM[1] * PX_PER_MM).round() as u32,
    );
    let mut image = GrayImage::new(w, h);
    let step = 1.0 / PX_PER_MM;
    for (y, row) in image.as_mut().chunks_exact_mut(w as usize).enumerate() {
        let y_mm = (y as f32 + 0.5) * step;
        warp_row(src, scale, &card_to_image, y_mm, 0.5 * step, step, row);
    }
    Some(Rectified {
        image,
        card_to_image,
        image_px_per_mm,
    })
}

/// Mean grey level inside a box of the rectified card, given in millimetres.
fn mean_in(img: &GrayImage, b: [f32; 4]) -> f32 {
    let [x0, y0, x1, y1] = b.map(|v| (v * PX_PER_MM) as u32);
    let (x1, y1) = (x1.min(img.width()), y1.min(img.height()));
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            sum += u64::from(img.get_pixel(x, y).0[0]);
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { sum as f32 / n as f32 }
}

/// Whether the rectified card looks upside down: the photo is darker than the label area, so
/// the box where the photo would be after a half turn is much darker than where it should be.
pub fn looks_upside_down(r: &Rectified) -> bool {
    let p = at::PHOTO;
    let here = mean_in(&r.image, p);
    let turned = mean_in(
        &r.image,
        [
            CARD_MM[0] - p[2],
            CARD_MM[1] - p[3],
            CARD_MM[0] - p[0],
            CARD_MM[1] - p[1],
        ],
    );
    turned + PHOTO_DARKER < here
}

/// How much darker (grey levels) the photo's box must be than another place it may be in for the
/// card to be taken as turned ([`looks_upside_down`]) or mirrored ([`looks_mirrored`]).
const PHOTO_DARKER: f32 = 18.0;

/// Whether the rectified card, turned as [`looks_upside_down`] said, looks mirrored (a photo saved
/// as a camera's preview shows it). A mirrored card's photo is on the left, either way up, where
/// an unmirrored card upside down has its own; told by the photo's end, since the half turn put
/// it on the right: an unmirrored card's photo reaches up to 12 mm from the top with the issue
/// place and date printed under it, where a mirrored card's, turned, reaches down to 42 mm with
/// that print above it. Mirrored when the strip at the bottom of where the photo may be is darker
/// than the strip at its top by as much as [`looks_upside_down`] asks.
pub fn looks_mirrored(r: &Rectified) -> bool {
    let p = at::PHOTO;
    let h = CARD_MM[1];
    let (top, bottom) = (p[1], h - p[1]);
    let strip = h - p[3] - p[1];
    let upper = mean_in(&r.image, [p[0], top, p[2], top + strip]);
    let lower = mean_in(&r.image, [p[0], bottom - strip, p[2], bottom]);
    lower + PHOTO_DARKER < upper
}

/// The ink map of a rectified card: how much darker each pixel is than its neighbourhood mean,
/// thresholded; and the threshold's basis, the card's text contrast.
#[derive(Debug)]
pub struct Ink {
    w: usize,
    h: usize,
    /// Integral of the ink bitmap, `(w + 1) x (h + 1)`: box counts in four lookups.
    sum: Vec<u32>,
    /// The same for faint ink, at [`FAINT_INK`] of the contrast: where a line's thin first or last
    /// letter, blurred, still shows ([`faint_edge`]).
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
    fn faint_cols(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> Vec<u32> {
        (x0..x1.min(self.w))
            .map(|x| self.boxed(&self.faint, x, x + 1, y0, y1))
            .collect()
    }

    /// Ink pixels in columns `x0..x1` and rows `y0..y1` (clamped to the card).
    fn count(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> u32 {
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
    fn rows(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> Vec<u32> {
        (y0..y1.min(self.h))
            .map(|y| self.count(x0, x1, y, y + 1))
            .collect()
    }

    /// Ink pixels per column over rows `y0..y1`, for columns `x0..x1`.
    fn cols(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> Vec<u32> {
        (x0..x1.min(self.w))
            .map(|x| self.count(x, x + 1, y0, y1))
            .collect()
    }
}

/// The value at quantile `q` of a 256-bin histogram (bin centres).
fn percentile(hist: &[u32; 256], q: f64) -> f32 {
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

fn mm_px(mm: f32) -> usize {
    (mm * PX_PER_MM).round().max(0.0) as usize
}

fn px_mm(px: usize) -> f32 {
    px as f32 / PX_PER_MM
}

/// Runs `[start, end)` of indexes whose value is at least `min`, with gaps of up to `bridge`
/// closed and runs shorter than `min_len` dropped.
fn runs(profile: &[u32], min: u32, bridge: usize, min_len: usize) -> Vec<(usize, usize)> {
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
struct Band {
    y0: usize,
    y1: usize,
}

impl Band {
    fn height(&self) -> usize {
        self.y1 - self.y0
    }
}

fn bands(ink: &Ink, x: [f32; 2], y: [f32; 2]) -> Vec<Band> {
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
fn extent(
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
/// Darkness (share of the card's text contrast) counted as faint ink; ink is 0.4. Both at least 6
/// grey levels: on a dim card (contrast under 30) the grain itself is faint ink, and a line's box
/// widened onto it read "WNI" as "WNU" (6 of 300 hard cards, seed 2, in a try with a floor of 3),
/// so there is no faint ink.
const FAINT_INK: f32 = 0.2;
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
    /// turned by two: [`rectify`]'s upside-down check tells). Empty when there is too little
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
fn print_extent(coords: &[f32]) -> Option<(f32, f32)> {
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
const PRINT_X_MM: [f32; 2] = [3.2, 81.6];
const PRINT_Y_MM: [f32; 2] = [2.5, 50.5];

/// The widest skew [`Print::skew`] looks for, and its step (degrees).
const MAX_SKEW_DEG: f32 = 8.0;
const SKEW_STEP_DEG: f32 = 0.5;

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
struct ColonShift {
    /// Shift at `y_mid` (mm) and its change per millimetre down the card.
    at_mid: f32,
    slope: f32,
    y_mid: f32,
}

impl ColonShift {
    const NONE: ColonShift = ColonShift {
        at_mid: 0.0,
        slope: 0.0,
        y_mid: 0.0,
    };

    /// The fitted offset (mm) of the colon on the row whose middle is `y` (mm).
    fn line(&self, y: f32) -> f32 {
        self.at_mid + self.slope * (y - self.y_mid)
    }

    /// The shift (mm) of the value columns on the row whose middle is `y` (mm).
    fn at(&self, y: f32) -> f32 {
        let s = self.line(y);
        if s.abs() < COLON_SLACK_MM { 0.0 } else { s }
    }
}

fn colon_shift(ink: &Ink, bands: &[Band], labelled: &[bool]) -> ColonShift {
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
fn value_start(ink: &Ink, band: Band, shift: f32) -> f32 {
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
fn relabel_with_colons(ink: &Ink, bands: &[Band], labelled: &mut [bool], colons: &ColonShift) {
    for (b, l) in bands.iter().zip(labelled.iter_mut()) {
        let shift = colons.at(px_mm(b.y0 + b.y1) / 2.0);
        if *l && shift < 0.0 {
            *l = has_label(ink, *b, label_column(shift));
        }
    }
}

/// Whether row `band` has a label: ink in the label column `[x0, x1]` (mm).
fn has_label(ink: &Ink, band: Band, [x0, x1]: [f32; 2]) -> bool {
    let ink_px: u32 = ink
        .rows(mm_px(x0.max(0.0)), mm_px(x1), band.y0, band.y1)
        .iter()
        .sum();
    ink_px >= 12
}

/// How far (mm) either side of where the colons are a row's own colon is looked for.
const COLON_ANCHOR_MM: f32 = 2.0;
/// Space (mm) left after a row's colon before its value is looked for.
const COLON_GAP_MM: f32 = 0.25;

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
struct Grid {
    first: f32,
    pitch: f32,
}

impl Grid {
    /// The grid of labelled rows with these tops (mm, top to bottom); none with no two rows one
    /// pitch apart. The median step first; then each row's slot counted step by step from Nama's
    /// (a step is a whole number of pitches give or take a pixel) and the grid fitted through
    /// them. On a small card the rows' tops are whole pixels, steps of 18 and 20 px for a pitch of
    /// 18.9: the median alone (18) put the last rows more than half a pitch off their slots.
    fn of(lab: &[f32]) -> Option<Grid> {
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
    fn slot(self, t: f32) -> i64 {
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
fn short_wrapped_lines(
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
fn short_name_row(
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
fn short_labelled_rows(
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
fn line_top(band: Band, cap: f32) -> usize {
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
fn keys_by_position(tops: &[f32], labelled: &[bool]) -> Vec<Option<&'static str>> {
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
fn blood_type(ink: &Ink, band: Band, cap: f32) -> LineBox {
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
/// `end`: at least [`CUT_STROKES`] columns there hold faint ink ([`FAINT_INK`]) at least half the
/// band's height, a few letters' strokes. Glare over the right half of an address's first line
/// left "GG. PROF. DR." faint: the line's box ended at "DAHLAN", the recogniser read what it held
/// sure, and the address came back sure without three of its words (seed 5, photo 14).
fn continues_faintly(ink: &Ink, band: Band, x1: usize, end: usize) -> bool {
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

/// Cuts a line box out of the photo at `height` pixels, sampling the pyramid level nearest the
/// recogniser's training resolution.
pub fn cut(pyr: &Pyramid, r: &Rectified, rect: [f32; 4], height: u32) -> GrayImage {
    let [x0, y0, x1, y1] = rect;
    let box_h = (y1 - y0).max(0.1);
    // About one source pixel per output pixel, never much coarser.
    let want = height as f32 / box_h;
    let (src, scale) = pyr.level_for(r.image_px_per_mm, want * 1.2);
    let width = (((x1 - x0) / box_h) * height as f32)
        .round()
        .clamp(1.0, 2000.0) as u32;
    let mut out = GrayImage::new(width, height);
    let (sx, sy) = ((x1 - x0) / width as f32, box_h / height as f32);
    for (v, row) in out.as_mut().chunks_exact_mut(width as usize).enumerate() {
        let y_mm = y0 + (v as f32 + 0.5) * sy;
        warp_row(src, scale, &r.card_to_image, y_mm, x0 + 0.5 * sx, sx, row);
    }
    out
}

/// With less contrast than this (grey levels) where the NIK is printed, no print can be seen.
const MIN_PRINT_CONTRAST: f32 = 16.0;

/// How blurred the NIK's print is, as the sigma in millimetres of a Gaussian blur that would give
/// its steepest edges: the text's contrast (5th to 95th percentile) over the steepest horizontal
/// steps (the 99th percentile, after averaging 5 rows along the digits' strokes against noise),
/// over the square root of 2π. Sharp print measures about 0.2 mm (the step's own width), the
/// hard tier's blur up to about 0.4 mm; letters blur into each other from about half a millimetre.
pub fn nik_blur_mm(img: &GrayImage) -> f32 {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (x0, x1) = (mm_px(at::NIK_X[0]), mm_px(58.0).min(w.saturating_sub(1)));
    let (y0, y1) = (mm_px(10.8), mm_px(14.4).min(h.saturating_sub(2)));
    if x1 <= x0 + 2 || y1 <= y0 + 4 {
        return f32::INFINITY;
    }
    let px = |x: usize, y: usize| f32::from(img.get_pixel(x as u32, y as u32).0[0]);
    let mut levels = [0u32; 256];
    let mut steps = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for y in y0 + 2..y1 - 2 {
        for x in x0 + 1..x1 - 1 {
            levels[img.get_pixel(x as u32, y as u32).0[0] as usize] += 1;
            let col = |x: usize| (y - 2..=y + 2).map(|yy| px(x, yy)).sum::<f32>() / 5.0;
            steps.push((col(x + 1) - col(x - 1)).abs() / 2.0);
        }
    }
    let contrast = percentile(&levels, 0.95) - percentile(&levels, 0.05);
    if contrast < MIN_PRINT_CONTRAST {
        return f32::INFINITY;
    }
    steps.sort_by(f32::total_cmp);
    let steep = steps[steps.len() * 99 / 100].max(0.5);
    contrast / (steep * (2.0 * std::f32::consts::PI).sqrt()) / PX_PER_MM
}

/// How much of the NIK glare has washed out, in `[0, 1]`: the share of the NIK's columns (on the
/// rectified card) in runs at least a digit wide that are mostly near-white and hold no ink at
/// all. Glare over the background between the digits does not count while the digits still show
/// through it; glare that has swallowed a digit does.
pub fn glare_on_nik(img: &GrayImage) -> f32 {
    let (x0, x1) = (mm_px(at::NIK_X[0]), mm_px(58.0).min(img.width() as usize));
    let (y0, y1) = (mm_px(10.8), mm_px(14.4).min(img.height() as usize));
    if x0 >= x1 || y0 >= y1 {
        return 0.0;
    }
    let rows = (y1 - y0) as u32;
    let min_run = mm_px(GLARE_MIN_RUN_MM).max(1);
    let (mut washed, mut run) = (0usize, 0usize);
    for x in x0..=x1 {
        let blank = x < x1 && {
            let (mut bright, mut darkest) = (0u32, u8::MAX);
            for y in y0..y1 {
                let v = img.get_pixel(x as u32, y as u32).0[0];
                bright += u32::from(v >= GLARE_WHITE);
                darkest = darkest.min(v);
            }
            2 * bright >= rows && darkest >= GLARE_NO_INK
        };
        if blank {
            run += 1;
        } else {
            if run >= min_run {
                washed += run;
            }
            run = 0;
        }
    }
    washed as f32 / (x1 - x0) as f32
}

/// A pixel this bright is glare (or paper at its whitest).
const GLARE_WHITE: u8 = 247;
/// A column of the NIK with nothing darker than this holds no print.
const GLARE_NO_INK: u8 = 215;
/// Blank runs narrower than this are the gaps between digits (a NIK digit is about 2 mm wide).
const GLARE_MIN_RUN_MM: f32 = 1.5;

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of dark dashes (words) on a light page, running at `angle_deg` (y down).
    fn page(angle_deg: f32, w: u32, h: u32) -> GrayImage {
        let t = angle_deg.to_radians().tan();
        GrayImage::from_fn(w, h, |x, y| {
            // Undo the slope, then: a 4-px-high line every 16 px, dashes 10 px long, 4 px apart.
            let v = y as f32 - x as f32 * t;
            let (row, col) = (v.rem_euclid(16.0), x % 14);
            let inside = v > 20.0 && v < h as f32 - 20.0 && x > 20 && x < w - 20;
            image::Luma([if inside && row < 4.0 && col < 10 {
                40
            } else {
                215
            }])
        })
    }

    #[test]
    fn the_skew_of_the_print_is_found_along_rows_and_columns() {
        for angle in [-5.0f32, -2.0, 0.0, 3.0, 6.5] {
            let found = Print::of(&page(angle, 400, 260)).skew(false).to_degrees();
            assert!((found - angle).abs() <= 0.5, "{angle} -> {found}");
        }
        // The same page turned a quarter (a portrait frame): its lines run down the columns.
        let flat = page(2.0, 400, 260);
        let turned = GrayImage::from_fn(260, 400, |x, y| *flat.get_pixel(y, x));
        let found = Print::of(&turned).skew(true).to_degrees();
        assert!((found - 2.0).abs() <= 0.5, "{found}");
    }

    #[test]
    fn the_print_s_extent_ignores_specks_scattered_over_the_page() {
        // A block of print from 100 to 300, dense; 300 specks anywhere from 0 to 1000.
        let mut coords: Vec<f32> = (0..6000).map(|i| 100.0 + (i % 200) as f32).collect();
        coords.extend((0..300).map(|i| (i * 337 % 1000) as f32));
        let (lo, hi) = print_extent(&coords).expect("print");
        assert!(
            (lo - 100.0).abs() <= 3.0 && (hi - 300.0).abs() <= 3.0,
            "{lo}..{hi}"
        );
        assert_eq!(print_extent(&[]), None);
    }

    #[test]
    fn a_card_without_an_edge_is_guessed_around_its_print() {
        // A card 5 px/mm wide at (60, 50) on white paper, its edge invisible: only its print
        // shows, rows of dashes over the span of a KTP's print (3.2-81.6 mm by 2.5-50.5 mm).
        let (s, ox, oy) = (5.0f32, 60.0f32, 50.0f32);
        let (x0, x1) = (ox + PRINT_X_MM[0] * s, ox + PRINT_X_MM[1] * s);
        let (y0, y1) = (oy + PRINT_Y_MM[0] * s, oy + PRINT_Y_MM[1] * s);
        let paper = GrayImage::from_fn(640, 420, |x, y| {
            let (xf, yf) = (x as f32, y as f32);
            let inside = xf >= x0 && xf < x1 && yf >= y0 && yf < y1;
            let row = (yf - y0) as u32 % 12 < 4 || yf >= y1 - 4.0;
            image::Luma([if inside && row && (x - x0 as u32) % 14 < 10 {
                30
            } else {
                250
            }])
        });
        let guesses = Print::of(&paper).box_guesses();
        let truth = [
            [ox, oy],
            [ox + CARD_MM[0] * s, oy],
            [ox + CARD_MM[0] * s, oy + CARD_MM[1] * s],
            [ox, oy + CARD_MM[1] * s],
        ];
        let first = guesses.first().expect("a guess");
        for (g, t) in first.iter().zip(&truth) {
            assert!(
                (g[0] - t[0]).abs() <= 8.0 && (g[1] - t[1]).abs() <= 8.0,
                "{first:?} against {truth:?}"
            );
        }
        // A blank page gives nothing to guess from.
        let blank = GrayImage::from_pixel(640, 420, image::Luma([250]));
        assert!(Print::of(&blank).box_guesses().is_empty());
    }

    #[test]
    fn glare_counts_where_it_swallowed_digits_not_between_them() {
        let (w, h) = (
            (CARD_MM[0] * PX_PER_MM).round() as u32,
            (CARD_MM[1] * PX_PER_MM).round() as u32,
        );
        let (x0, x1) = (mm_px(at::NIK_X[0]), mm_px(58.0));
        let (y0, y1) = (mm_px(10.8), mm_px(14.4));
        // Digits 2 mm wide every 2.6 mm across the NIK, on a background glared to white.
        let card = |swallowed: std::ops::Range<usize>| {
            GrayImage::from_fn(w, h, |x, y| {
                let (x, y) = (x as usize, y as usize);
                let in_nik = (x0..x1).contains(&x) && (y0..y1).contains(&y);
                let digit = (x - x0.min(x)) % mm_px(2.6) < mm_px(2.0);
                let ink = in_nik && y > y0 + 3 && y < y1 - 3 && digit && !swallowed.contains(&x);
                image::Luma([if ink {
                    40
                } else if in_nik {
                    255
                } else {
                    230
                }])
            })
        };
        assert!(glare_on_nik(&card(0..0)) < 0.05);
        // A third of the NIK's digits gone under the glare.
        let third = (x1 - x0) / 3;
        let g = glare_on_nik(&card(x0..x0 + third));
        assert!((0.28..0.4).contains(&g), "{g}");
    }

    #[test]
    fn runs_bridge_small_gaps_and_drop_short_ones() {
        let p = [0, 5, 5, 0, 5, 0, 0, 0, 5, 0, 5, 5, 5, 5];
        assert_eq!(runs(&p, 3, 1, 2), vec![(1, 5), (8, 14)]);
        assert_eq!(runs(&p, 3, 3, 1), vec![(1, 14)]);
        assert!(runs(&[], 1, 0, 1).is_empty());
    }

    #[test]
    fn pyramid_halves_and_picks_the_coarsest_sufficient_level() {
        let pyr = Pyramid::new(GrayImage::from_pixel(1000, 600, image::Luma([100])));
        assert_eq!(pyr.levels.len(), 4); // 1000, 500, 250, 125 (62 would be under 64)
        let (img, scale) = pyr.level_for(40.0, 8.0);
        assert_eq!((img.width(), scale), (250, 0.25));
        let (img, scale) = pyr.level_for(10.0, 8.0);
        assert_eq!((img.width(), scale), (1000, 1.0));
    }

    #[test]
    fn rows_are_keyed_by_their_place_on_the_grid() {
        let grid = |slots: &[f32]| -> Vec<f32> { slots.iter().map(|s| 16.0 + 2.37 * s).collect() };
        // The keys of rows at `tops`, every one labelled but those `unlabelled` names.
        let keyed = |tops: &[f32], unlabelled: &[usize]| {
            let labelled: Vec<bool> = (0..tops.len()).map(|i| !unlabelled.contains(&i)).collect();
            keys_by_position(tops, &labelled)
        };
        // All twelve rows, one line of address.
        let tops = grid(&[0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11.]);
        let keys = keys_by_position(&tops, &[true; 12]);
        assert_eq!(keys, ROW_KEYS.map(Some).to_vec());
        // A wrapped address; Agama's label lost to glare: only that row goes.
        let tops = grid(&[0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.]);
        let keys = keyed(&tops, &[4, 8]);
        assert_eq!(keys[3], Some("address"));
        assert_eq!(keys[4], Some("address"));
        assert_eq!(keys[5], Some("rt_rw"));
        assert_eq!(keys[8], None);
        assert_eq!(keys[9], Some("marital_status"));
        assert_eq!(keys[12], Some("valid_until"));
        // The second address line missed, but Berlaku Hingga sits twelve steps down.
        let tops = grid(&[0., 1., 2., 3., 5., 6., 7., 8., 9., 10., 11., 12.]);
        let keys = keys_by_position(&tops, &[true; 12]);
        assert_eq!(keys[4], Some("rt_rw"));
        assert_eq!(keys[11], Some("valid_until"));
        // An address of three lines: both unlabelled lines are the address's, every row below
        // moves down two steps.
        let tops = grid(&[0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13.]);
        let keys = keyed(&tops, &[4, 5]);
        assert_eq!(&keys[3..6], &[Some("address"); 3]);
        assert_eq!(keys[6], Some("rt_rw"));
        assert_eq!(keys[13], Some("valid_until"));
        // A stray unlabelled band two slots below Alamat while the last row is where one wrapped
        // line puts it: not a third line, the rows below keep their keys.
        let tops = grid(&[0., 1., 2., 3., 4., 5., 5.45, 6., 7., 8., 9., 10., 11., 12.]);
        let keys = keyed(&tops, &[4, 6]);
        assert_eq!(keys[5], Some("rt_rw"));
        assert_eq!(keys[6], None);
        assert_eq!(keys[13], Some("valid_until"));
        // One row: no pitch, the labelled rows in order.
        assert_eq!(keys_by_position(&[20.0], &[true]), vec![Some("name")]);
    }

    #[test]
    fn nik_blur_is_measured_in_millimetres() {
        // Dark strokes 3 px wide every 16 px (the NIK's digits at 8 px/mm), on a light card.
        let img = GrayImage::from_fn(685, 432, |x, _| {
            image::Luma([if x % 16 < 3 { 40 } else { 210 }])
        });
        let sharp = nik_blur_mm(&img);
        assert!(sharp < 0.25, "{sharp}");
        let soft = nik_blur_mm(&image::imageops::blur(&img, 2.0));
        assert!(soft > sharp && soft < 0.5, "{soft}");
        // Blurred by 6 px (0.75 mm) the strokes melt together.
        let melted = nik_blur_mm(&image::imageops::blur(&img, 6.0));
        assert!(melted > 0.5, "{melted}");
        // Print blurred to nothing, or no print, is as blurred as can be.
        let flat = GrayImage::from_pixel(685, 432, image::Luma([200]));
        assert_eq!(nik_blur_mm(&flat), f32::INFINITY);
    }

    /// A card of labelled rows at 8 px/mm: label and value letters as 2-px strokes, and the
    /// colon (two 3-px dots) `colon_at(row)` mm right of its column, on the rows `with_colon` says.
    fn rows_with_colons(colon_at: &dyn Fn(usize) -> f32, with_colon: &[bool]) -> (Ink, Vec<Band>) {
        let mut img = GrayImage::from_pixel(685, 432, image::Luma([210]));
        let mut bands = Vec::new();
        let mut ink_at = |x0: usize, x1: usize, y0: usize, y1: usize| {
            for y in y0..y1 {
                for x in x0..x1 {
                    img.put_pixel(x as u32, y as u32, image::Luma([40]));
                }
            }
        };
        for (i, &colon) in with_colon.iter().enumerate() {
            let top = mm_px(16.0 + 2.4 * i as f32);
            let strokes = |from: f32, to: f32| (mm_px(from)..mm_px(to)).step_by(5);
            for x in strokes(4.0, 12.0).chain(strokes(25.2 + colon_at(i), 40.0)) {
                ink_at(x, x + 2, top, top + 12);
            }
            if colon {
                let x = mm_px(at::COLON + colon_at(i)) - 1;
                ink_at(x, x + 3, top + 2, top + 5);
                ink_at(x, x + 3, top + 8, top + 11);
            }
            bands.push(Band {
                y0: top,
                y1: top + 12,
            });
        }
        (Ink::new(&img), bands)
    }

    fn mid(b: &Band) -> f32 {
        px_mm(b.y0 + b.y1) / 2.0
    }

    #[test]
    fn the_value_columns_follow_the_colons() {
        let all = [true; 8];
        // The shift on the middle row.
        let shift = |at: f32, with: &[bool]| {
            let (ink, bands) = rows_with_colons(&|_| at, with);
            colon_shift(&ink, &bands, &vec![true; with.len()]).at(mid(&bands[4]))
        };
        assert_eq!(shift(0.0, &all), 0.0);
        // Within the columns' slack: left where they are.
        assert_eq!(shift(0.25, &all), 0.0);
        // A close-up laid out too small: the colons 1.6 mm left of their column.
        let s = shift(-1.6, &all);
        assert!((s + 1.6).abs() < 0.15, "{s}");
        let s = shift(1.0, &all);
        assert!((s - 1.0).abs() < 0.15, "{s}");
        // Too few rows with a colon to trust.
        let s = shift(-1.6, &[true, false, true, false, false, true, false, false]);
        assert_eq!(s, 0.0);
    }

    #[test]
    fn a_sheared_card_s_values_start_at_each_row_s_own_colon() {
        // A close-up laid out from the photo's edge: the colons drift from 1.8 mm left of their
        // column on the first row to 0.6 mm on the eighth, more than any one offset follows.
        let drift = |i: usize| -1.8 + 1.2 * i as f32 / 7.0;
        let (ink, bands) = rows_with_colons(&drift, &[true; 8]);
        let colons = colon_shift(&ink, &bands, &[true; 8]);
        for (i, band) in bands.iter().enumerate() {
            let s = colons.at(mid(band));
            assert!((s - drift(i)).abs() < 0.15, "row {i}: {s} for {}", drift(i));
            // The value is looked for just after the row's own colon (its right edge is 1.5 px
            // right of its place), before the value's first stroke 1.6 mm on.
            let start = value_start(&ink, *band, s);
            let colon_end = at::COLON + drift(i) + 1.5 / PX_PER_MM;
            assert!(
                start > colon_end && start < colon_end + 0.5,
                "row {i}: value from {start} mm, colon ends at {colon_end}"
            );
        }
        // Without a colon on a row, the value column (shifted) stands.
        let (ink, bands) = rows_with_colons(
            &|_| -1.6,
            &[true, true, true, true, false, true, true, true],
        );
        let colons = colon_shift(&ink, &bands, &[true; 8]);
        let s = colons.at(mid(&bands[4]));
        assert!((value_start(&ink, bands[4], s) - (at::VALUE[0] + s)).abs() < 1e-4);
    }

    #[test]
    fn the_grain_of_a_dim_noisy_photo_is_not_ink() {
        // A dim blank card with sensor grain of about 10 grey levels (uniform in -17..=17), as a
        // phone saves it in low light at a good JPEG quality: nearly nothing of it is ink, while
        // text printed on it still is.
        let grain = |x: u32, y: u32| {
            let mut v = (u64::from(x) * 0x9E37_79B9) ^ (u64::from(y) * 0x85EB_CA6B);
            v ^= v >> 13;
            v = v.wrapping_mul(0xC2B2_AE35);
            v ^= v >> 16;
            (v % 35) as i32 - 17
        };
        let dim =
            |x: u32, y: u32, base: i32| image::Luma([(base + grain(x, y)).clamp(0, 255) as u8]);
        let blank = GrayImage::from_fn(685, 432, |x, y| dim(x, y, 80));
        let ink = Ink::new(&blank);
        let share = ink.count(0, ink.w, 0, ink.h) as f32 / (ink.w * ink.h) as f32;
        assert!(share < 0.03, "{share}");
        let printed = GrayImage::from_fn(685, 432, |x, y| {
            let text = (200..212).contains(&y) && (220..500).contains(&x) && x % 14 < 9;
            dim(x, y, if text { 40 } else { 80 })
        });
        let ink = Ink::new(&printed);
        let row = ink.count(220, 500, 200, 212) as f32 / (280.0 * 12.0);
        assert!(row > 0.4, "{row}");
    }

    /// Rows on the grid of `rows_with_colons` (2.4 mm pitch from 16 mm): a labelled row of full
    /// value on each slot of `full`, and on each of `short`'s slots three digit-wide strokes with no
    /// label, as a house number the address wrapped leaves. Returns the ink and the bands of the
    /// full rows.
    fn rows_with_a_short_one(full: &[usize], short: &[usize]) -> (Ink, Vec<Band>) {
        let mut img = GrayImage::from_pixel(685, 432, image::Luma([210]));
        let top = |slot: usize| mm_px(16.0 + 2.4 * slot as f32);
        let mut ink_at = |x0: usize, x1: usize, y0: usize| {
            for y in y0..y0 + 12 {
                for x in x0..x1 {
                    img.put_pixel(x as u32, y as u32, image::Luma([40]));
                }
            }
        };
        for &slot in full {
            for x in (mm_px(4.0)..mm_px(12.0))
                .chain(mm_px(25.2)..mm_px(55.0))
                .step_by(5)
            {
                ink_at(x, x + 2, top(slot));
            }
        }
        for &slot in short {
            for x in (mm_px(25.2)..mm_px(27.6)).step_by(7) {
                ink_at(x, x + 2, top(slot));
            }
        }
        let bands = full
            .iter()
            .map(|&s| Band {
                y0: top(s),
                y1: top(s) + 12,
            })
            .collect();
        (Ink::new(&img), bands)
    }

    #[test]
    fn a_wrapped_line_too_short_to_be_a_band_is_found_where_the_grid_wants_it() {
        let top = |slot: usize| mm_px(16.0 + 2.4 * slot as f32);
        let is_on = |b: &Band, slot: usize| {
            b.y0.abs_diff(top(slot)) <= 1 && b.y1.abs_diff(top(slot) + 12) <= 1
        };
        // Twelve labelled rows, the last eight a slot lower than the grid of twelve: the address
        // took a second line on slot 4, of three digits.
        let full: Vec<usize> = (0..4).chain(5..13).collect();
        let labelled = vec![true; full.len()];
        let (ink, bands) = rows_with_a_short_one(&full, &[4]);
        // Too little ink per row for the rows' own threshold: no band there.
        let found = super::bands(&ink, at::VALUE, at::ROWS_Y);
        assert!(!found.iter().any(|b| is_on(b, 4)), "{found:?}");
        let wrapped = short_wrapped_lines(&ink, &bands, &labelled, &ColonShift::NONE);
        assert!(wrapped.len() == 1 && is_on(&wrapped[0], 4), "{wrapped:?}");
        // The grid pushed down, but nothing on the slot: no line made up.
        let (ink, bands) = rows_with_a_short_one(&full, &[]);
        assert_eq!(
            short_wrapped_lines(&ink, &bands, &labelled, &ColonShift::NONE),
            []
        );
        // No row pushed down (twelve rows on twelve slots): not looked for, whatever is there.
        let twelve: Vec<usize> = (0..12).collect();
        let (ink, bands) = rows_with_a_short_one(&twelve, &[12]);
        assert_eq!(
            short_wrapped_lines(&ink, &bands, &[true; 12], &ColonShift::NONE),
            []
        );
        // An address of three lines, the last eight rows two slots down: the second line is a full
        // (unlabelled) band, the third a number alone on slot 5.
        let rows: Vec<usize> = (0..4).chain(6..14).collect();
        let (ink, mut bands) = rows_with_a_short_one(&rows, &[5]);
        let mut labelled = vec![true; bands.len()];
        bands.insert(
            4,
            Band {
                y0: top(4),
                y1: top(4) + 12,
            },
        );
        labelled.insert(4, false);
        let wrapped = short_wrapped_lines(&ink, &bands, &labelled, &ColonShift::NONE);
        assert!(wrapped.len() == 1 && is_on(&wrapped[0], 5), "{wrapped:?}");
        // Both further lines numbers alone: both found.
        let (ink, bands) = rows_with_a_short_one(&rows, &[4, 5]);
        let wrapped =
            short_wrapped_lines(&ink, &bands, &vec![true; bands.len()], &ColonShift::NONE);
        assert!(
            wrapped.len() == 2 && is_on(&wrapped[0], 4) && is_on(&wrapped[1], 5),
            "{wrapped:?}"
        );
    }

    /// The last pixel row of the NIK over [`labelled_rows`]' rows: 2 mm above the first.
    fn nik_y1() -> usize {
        mm_px(14.0)
    }

    /// Rows on grid slots with a label (4-12 mm) and a value from 25.2 mm to `end` (mm), all moved
    /// `shift` mm; `bare` rows have no label. The bands of the rows whose value ends past 40 mm.
    fn labelled_rows(rows: &[(usize, f32)], bare: &[usize], shift: f32) -> (Ink, Vec<Band>) {
        let mut img = GrayImage::from_pixel(685, 432, image::Luma([210]));
        let top = |slot: usize| mm_px(16.0 + 2.4 * slot as f32);
        let mut bands = Vec::new();
        for &(slot, end) in rows {
            let label = (mm_px(4.0 + shift)..mm_px(12.0 + shift)).step_by(5);
            let value = (mm_px(25.2 + shift)..mm_px(end + shift)).step_by(5);
            let strokes: Vec<usize> = if bare.contains(&slot) {
                value.collect()
            } else {
                label.chain(value).collect()
            };
            for x in strokes {
                for y in top(slot)..top(slot) + 12 {
                    for x in x..x + 2 {
                        img.put_pixel(x as u32, y as u32, image::Luma([40]));
                    }
                }
            }
            if end > 40.0 {
                bands.push(Band {
                    y0: top(slot),
                    y1: top(slot) + 12,
                });
            }
        }
        (Ink::new(&img), bands)
    }

    #[test]
    fn a_labelled_row_whose_value_is_too_short_to_be_a_band_is_found_on_its_slot() {
        let top = |slot: usize| mm_px(16.0 + 2.4 * slot as f32);
        let is_on = |b: &Band, slot: usize| {
            b.y0.abs_diff(top(slot)) <= 1 && b.y1.abs_diff(top(slot) + 12) <= 1
        };
        // Twelve rows, Kewarganegaraan's value (slot 10) "WNI", 2.4 mm long.
        let rows: Vec<(usize, f32)> = (0..12)
            .map(|s| (s, if s == 10 { 27.6 } else { 55.0 }))
            .collect();
        let (ink, bands) = labelled_rows(&rows, &[], 0.0);
        let found = super::bands(&ink, at::VALUE, at::ROWS_Y);
        assert!(!found.iter().any(|b| is_on(b, 10)), "{found:?}");
        let labelled = vec![true; bands.len()];
        let short = short_labelled_rows(&ink, &bands, &labelled, &ColonShift::NONE);
        assert!(short.len() == 1 && is_on(&short[0], 10), "{short:?}");
        // The whole row wiped out (glare): nothing made up.
        let wiped: Vec<(usize, f32)> = rows.iter().copied().filter(|r| r.0 != 10).collect();
        let (ink, bands) = labelled_rows(&wiped, &[], 0.0);
        let labelled = vec![true; bands.len()];
        assert_eq!(
            short_labelled_rows(&ink, &bands, &labelled, &ColonShift::NONE),
            []
        );
        // The same card printed 3 mm left of its layout (the colons found there): "WNI" mostly
        // left of the value column is still found.
        let left = ColonShift {
            at_mid: -3.0,
            slope: 0.0,
            y_mid: 30.0,
        };
        let (ink, bands) = labelled_rows(&rows, &[], -3.0);
        let short = short_labelled_rows(&ink, &bands, &labelled, &left);
        assert!(short.len() == 1 && is_on(&short[0], 10), "{short:?}");
        // An address wrapped (the last row one slot past the grid): its second line's slot is no
        // labelled row's, whatever ink is in the label column there.
        let wrapped: Vec<(usize, f32)> = (0..13)
            .map(|s| (s, if s == 4 { 27.6 } else { 55.0 }))
            .collect();
        let (ink, bands) = labelled_rows(&wrapped, &[], 0.0);
        let labelled = vec![true; bands.len()];
        assert_eq!(
            short_labelled_rows(&ink, &bands, &labelled, &ColonShift::NONE),
            []
        );
        // Nor is the slot past the grid's twelve (where a stray mark under Berlaku Hingga would
        // say the address wrapped): twelve rows, a short mark with ink at the label on slot 12
        // and a stray band on slot 13.
        let stray: Vec<(usize, f32)> = (0..12)
            .map(|s| (s, 55.0))
            .chain([(12, 27.6), (13, 55.0)])
            .collect();
        let (ink, bands) = labelled_rows(&stray, &[], 0.0);
        let labelled = vec![true; bands.len()];
        assert_eq!(
            short_labelled_rows(&ink, &bands, &labelled, &ColonShift::NONE),
            []
        );
    }

    #[test]
    fn a_mirrored_card_is_told_by_its_photo_either_way_up() {
        // A card at 8 px/mm: light, its photo dark, the issue place and date under it, labels
        // and values greyer on the left.
        let card = GrayImage::from_fn(685, 432, |x, y| {
            let (x, y) = (x as f32 / PX_PER_MM, y as f32 / PX_PER_MM);
            let inside = |b: [f32; 4]| x >= b[0] && x < b[2] && y >= b[1] && y < b[3];
            image::Luma([if inside(at::PHOTO) {
                90
            } else if inside([65.0, 37.0, 80.0, 41.5]) {
                150
            } else if inside([3.0, 15.0, 50.0, 50.0]) {
                170
            } else {
                200
            }])
        });
        let (w, h) = (card.width(), card.height());
        let seen = |img: GrayImage| {
            let pyr = Pyramid::new(img);
            let corners = [
                [0.0, 0.0],
                [w as f32, 0.0],
                [w as f32, h as f32],
                [0.0, h as f32],
            ];
            let rect = rectify(&pyr, &corners, false).expect("rectified");
            let turned = looks_upside_down(&rect);
            let rect = if turned {
                rectify(&pyr, &corners, true).expect("rectified")
            } else {
                rect
            };
            (turned, looks_mirrored(&rect))
        };
        let mirrored = image::imageops::flip_horizontal(&card);
        let half_turned = image::imageops::rotate180(&card);
        let mirrored_turned = image::imageops::flip_vertical(&card);
        assert_eq!(seen(card), (false, false));
        assert_eq!(seen(half_turned), (true, false));
        // Mirrored, its photo on the left: turned, then told mirrored by where the photo ends.
        assert_eq!(seen(mirrored), (true, true));
        assert_eq!(seen(mirrored_turned), (false, true));
    }

    #[test]
    fn a_name_of_one_short_word_is_found_above_the_birth_row() {
        let top = |slot: usize| mm_px(16.0 + 2.4 * slot as f32);
        // Nama's value "TRI", 2.4 mm long: no band, so the first labelled band is Tempat/Tgl
        // Lahir's and the grid would take it for Nama's.
        let rows: Vec<(usize, f32)> = (0..12)
            .map(|s| (s, if s == 0 { 27.6 } else { 55.0 }))
            .collect();
        let (ink, bands) = labelled_rows(&rows, &[], 0.0);
        assert_eq!(bands[0].y0, top(1));
        let labelled = vec![true; bands.len()];
        let name = short_name_row(&ink, &bands, &labelled, &ColonShift::NONE, nik_y1());
        assert!(name.is_some_and(|b| b.y0.abs_diff(top(0)) <= 1), "{name:?}");
        let mut all = bands.clone();
        all.insert(0, name.unwrap());
        let tops: Vec<f32> = all.iter().map(|b| px_mm(b.y0)).collect();
        let keys = keys_by_position(&tops, &vec![true; all.len()]);
        assert_eq!(&keys[..2], &[Some("name"), Some("birth")]);
        // A NIK whose last row is under where the slot above would start: that slot is not
        // searched (it would be the NIK's own).
        assert_eq!(
            short_name_row(&ink, &bands, &labelled, &ColonShift::NONE, top(0) - 2),
            None
        );
        // Nama's value found as a band: nothing above it.
        let full: Vec<(usize, f32)> = (0..12).map(|s| (s, 55.0)).collect();
        let (ink, bands) = labelled_rows(&full, &[], 0.0);
        let labelled = vec![true; bands.len()];
        assert_eq!(
            short_name_row(&ink, &bands, &labelled, &ColonShift::NONE, nik_y1()),
            None
        );
    }

    #[test]
    fn a_short_name_and_a_wrapped_house_number_are_both_found_on_a_card() {
        // The NIK (3 mm high, 11-14 mm), then rows on slots from 16 mm: Nama's "TRI" (slot 0)
        // and the address's second line "84" (slot 4, no label) too short to be bands.
        let mut img = GrayImage::from_pixel(685, 432, image::Luma([210]));
        let top = |slot: usize| mm_px(16.0 + 2.4 * slot as f32);
        let mut strokes = |xs: std::ops::Range<usize>, step: usize, y0: usize, h: usize| {
            for x in xs.step_by(step) {
                for y in y0..y0 + h {
                    for x in x..x + 2 {
                        img.put_pixel(x as u32, y as u32, image::Luma([40]));
                    }
                }
            }
        };
        strokes(mm_px(3.2)..mm_px(9.0), 6, mm_px(11.0), 24);
        strokes(mm_px(19.6)..mm_px(55.0), 6, mm_px(11.0), 24);
        for slot in 0..13 {
            let end = match slot {
                0 | 4 => 27.6,
                _ => 55.0,
            };
            if slot != 4 {
                strokes(mm_px(4.0)..mm_px(12.0), 5, top(slot), 12);
            }
            strokes(mm_px(25.2)..mm_px(end), 5, top(slot), 12);
        }
        let lines = find_lines(&Ink::new(&img)).expect("a layout");
        let tops = |key: &str| -> Vec<usize> {
            lines
                .iter()
                .filter(|l| l.key == key)
                .map(|l| mm_px((l.rect[1] + l.rect[3]) / 2.0))
                .collect()
        };
        let near = |found: &[usize], slots: &[usize]| {
            found.len() == slots.len()
                && found
                    .iter()
                    .zip(slots)
                    .all(|(y, s)| y.abs_diff(top(*s) + 6) <= 3)
        };
        assert!(near(&tops("name"), &[0]), "{lines:?}");
        assert!(near(&tops("birth"), &[1]), "{lines:?}");
        assert!(near(&tops("address"), &[3, 4]), "{lines:?}");
        assert!(near(&tops("valid_until"), &[12]), "{lines:?}");
    }

    #[test]
    fn a_label_column_moves_left_with_the_colons() {
        // Rows printed 3 mm left of the layout, the address's second line (slot 4) without a label:
        // its value reaches into the label column as laid out (22.2 mm < 23 mm).
        let rows: Vec<(usize, f32)> = (0..13).map(|s| (s, 55.0)).collect();
        let (ink, bands) = labelled_rows(&rows, &[4], -3.0);
        let mut labelled: Vec<bool> = bands
            .iter()
            .map(|b| has_label(&ink, *b, at::LABEL))
            .collect();
        assert!(labelled[4]);
        let left = ColonShift {
            at_mid: -3.0,
            slope: 0.0,
            y_mid: 30.0,
        };
        relabel_with_colons(&ink, &bands, &mut labelled, &left);
        assert_eq!(labelled, (0..13).map(|s| s != 4).collect::<Vec<_>>());
        // Colons where laid out: labels as found.
        let (ink, bands) = labelled_rows(&rows, &[4], 0.0);
        let mut labelled: Vec<bool> = bands
            .iter()
            .map(|b| has_label(&ink, *b, at::LABEL))
            .collect();
        relabel_with_colons(&ink, &bands, &mut labelled, &ColonShift::NONE);
        assert_eq!(labelled, (0..13).map(|s| s != 4).collect::<Vec<_>>());
    }

    #[test]
    fn the_grid_keeps_the_last_rows_of_a_small_card_on_their_slots() {
        // The twelve rows' tops on a 640 x 480 webcam's card (pixels of the straightened card),
        // whole pixels 18 or 20 apart for a pitch of about 18.9: the median step put the last rows
        // a slot too low, and Berlaku Hingga past the grid (read as an address that wrapped).
        let px = [123, 143, 161, 179, 200, 218, 236, 256, 276, 293, 313, 331];
        let tops: Vec<f32> = px.iter().map(|&p| px_mm(p)).collect();
        let grid = Grid::of(&tops).expect("grid");
        let slots: Vec<i64> = tops.iter().map(|&t| grid.slot(t)).collect();
        assert_eq!(slots, (0..12).collect::<Vec<i64>>(), "{grid:?}");
        assert_eq!(
            keys_by_position(&tops, &[true; 12]),
            ROW_KEYS.map(Some).to_vec()
        );
        // A row missing (glare over Agama's): the slots as before, none for it.
        let missing: Vec<f32> = tops.iter().copied().filter(|&t| t != px_mm(256)).collect();
        let grid = Grid::of(&missing).expect("grid");
        let slots: Vec<i64> = missing.iter().map(|&t| grid.slot(t)).collect();
        assert_eq!(slots, [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11]);
    }

    #[test]
    fn a_line_whose_ink_is_short_of_the_cap_height_is_centred_on_it() {
        // Ink of the full cap height: cut from its top.
        assert_eq!(line_top(Band { y0: 100, y1: 113 }, 13.0), 100);
        // A row of digits whose tops the threshold lost (9 of 13 px): the cap height centred.
        assert_eq!(line_top(Band { y0: 104, y1: 113 }, 13.0), 102);
    }

    #[test]
    fn a_blank_card_has_no_lines() {
        let img = GrayImage::from_pixel(685, 432, image::Luma([210]));
        let ink = Ink::new(&img);
        assert_eq!(find_lines(&ink), Err(LayoutError::NoNik));
    }

    /// A card of grey 210 printed with rows of text from 26 mm down (strokes of grey 40, so that
    /// its contrast is a card's) above rectangles painted `grey` at `[x0, x1) x [y0, y1)`
    /// (pixels, below 33 mm).
    fn painted(marks: &[(usize, usize, usize, usize, u8)]) -> Ink {
        let mut img = GrayImage::from_pixel(685, 432, image::Luma([210]));
        let rows = (0..3).flat_map(|r| {
            let y = mm_px(16.0 + 2.4 * r as f32);
            (mm_px(25.0)..mm_px(60.0))
                .step_by(5)
                .map(move |x| (x, x + 2, y, y + 12, 40))
        });
        for (x0, x1, y0, y1, grey) in rows.chain(marks.iter().copied()) {
            for y in y0..y1 {
                for x in x0..x1 {
                    img.put_pixel(x as u32, y as u32, image::Luma([grey]));
                }
            }
        }
        Ink::new(&img)
    }

    #[test]
    fn an_i_that_lost_its_middle_is_not_taken_for_the_colon() {
        // "Nama : I KETUT" photographed at an angle: the colon at 23.6 mm shows only its lower
        // dot, and the "I" at 25 mm (3 px wide) its top and foot. Taken for the colon, the I
        // started the value after it and the name was read "KETUT", sure.
        let (y0, y1) = (200, 211);
        let colon = mm_px(at::COLON);
        let i = mm_px(25.0);
        let mut marks = vec![
            (colon, colon + 2, 208, 210, 40),
            (i, i + 3, y0, y0 + 5, 40),
            (i, i + 3, 208, 210, 40),
        ];
        marks.extend(
            (mm_px(26.0)..mm_px(40.0))
                .step_by(5)
                .map(|x| (x, x + 2, y0, y1, 40)),
        );
        let band = Band { y0, y1 };
        let ink = painted(&marks);
        let start = value_start(&ink, band, 0.0);
        assert!(start <= 25.0, "{start}");
        let (x0, _) = extent(&ink, band, [start, at::VALUE[1]], 2.5, false).expect("line");
        assert_eq!(x0, i);
        // A colon's two dots of one size are its colon: the value starts after it.
        marks[0] = (colon, colon + 2, 203, 205, 40);
        marks[1] = (colon, colon + 2, 208, 210, 40);
        marks[2] = (i, i + 3, y0, y1, 40);
        let ink = painted(&marks);
        let start = value_start(&ink, band, 0.0);
        assert!(
            (start - (px_mm(colon + 2) + COLON_GAP_MM)).abs() < 0.01,
            "{start}"
        );
    }

    #[test]
    fn a_line_running_past_its_column_keeps_its_last_letters() {
        // A close-up laid out a little too small: the line's letters (strokes 2 px wide, 3 px
        // apart) run past the column's end at 62.2 mm, the last ("4" of "94") after a letter gap
        // of 3 px; a mark 1.6 mm further on is the photo's edge, not the line's.
        let (y0, y1) = (200, 212);
        let end = mm_px(at::VALUE[1]);
        let mut marks: Vec<_> = (mm_px(30.0)..end + 5)
            .step_by(5)
            .map(|x| (x, x + 2, y0, y1, 40))
            .collect();
        marks.push((end + 7, end + 9, y0, y1, 40));
        marks.push((end + 22, end + 24, y0, y1, 40));
        let ink = painted(&marks);
        let band = Band { y0, y1 };
        let (x0, x1) = extent(&ink, band, [24.6, at::VALUE[1]], 2.5, false).expect("line");
        assert_eq!((x0, x1), (mm_px(30.0), end + 9));
        // The header, centred, is not followed.
        let (_, x1) = extent(&ink, band, [24.6, at::VALUE[1]], 2.5, true).expect("line");
        assert!(x1 <= end, "{x1}");
    }

    #[test]
    fn a_faint_thin_first_letter_is_kept_in_the_line_s_box() {
        // "JLN." with its J printed faint and thin (grey 160, 3 px wide; the other letters 40):
        // not ink at the line's threshold, but faint ink, and kept in the line.
        let (y0, y1) = (200, 212);
        let mut marks: Vec<_> = (mm_px(26.0)..mm_px(40.0))
            .step_by(6)
            .map(|x| (x, x + 3, y0, y1, 40))
            .collect();
        let j = mm_px(26.0) - 5;
        marks.push((j, j + 3, y0, y1, 160));
        let ink = painted(&marks);
        let band = Band { y0, y1 };
        assert_eq!(ink.count(j, j + 3, y0, y1), 0, "the J is ink: no test");
        assert!(ink.faint_cols(j, j + 3, y0, y1).iter().any(|&c| c >= 6));
        let (x0, _) = extent(&ink, band, [24.6, at::VALUE[1]], 2.5, false).expect("line");
        assert!((j..=j + 1).contains(&x0), "{x0}");
        // A faint speck there (a few pixels, no letter's height) does not move the box.
        let mut marks: Vec<_> = marks[..marks.len() - 1].to_vec();
        marks.push((j, j + 3, y0 + 5, y0 + 8, 160));
        let ink = painted(&marks);
        let speck = ink.faint_cols(j, j + 3, y0, y1);
        assert!(
            ink.count(j, j + 3, y0, y1) == 0 && speck.iter().any(|&c| c > 0),
            "{speck:?}"
        );
        let (x0, _) = extent(&ink, band, [24.6, at::VALUE[1]], 2.5, false).expect("line");
        assert_eq!(x0, mm_px(26.0));
    }

    #[test]
    fn a_blood_type_on_a_dim_card_is_boxed_where_it_is_not_on_a_speck_after_it() {
        // Gol. Darah's row on a dim card: the label's last letter, the colon as one faint blob
        // (no two dots to see), the value "B" of which only its left stroke is ink (as narrow and
        // as tall as a colon) and a speck of noise 3 mm on.
        let (y0, cap) = (200, 12.0);
        let label = mm_px(52.2);
        let colon = mm_px(54.2);
        let value = mm_px(55.6);
        let speck = mm_px(59.0);
        let ink = painted(&[
            (label, label + 8, y0, y0 + 12, 40),
            (colon, colon + 3, y0 + 3, y0 + 11, 40),
            (value, value + 3, y0, y0 + 12, 40),
            (speck, speck + 2, y0 + 4, y0 + 6, 40),
        ]);
        let b = blood_type(&ink, Band { y0, y1: y0 + 12 }, cap);
        let (x0, x1) = (b.rect[0] * PX_PER_MM, b.rect[2] * PX_PER_MM);
        assert!(x0 < value as f32 && x1 > (value + 3) as f32, "{:?}", b.rect);
    }

    #[test]
    fn a_line_that_goes_on_faintly_past_its_box_is_cut() {
        // "JL. KH. AHMAD DAHLAN" in ink, then "GG. PROF. DR." under glare: strokes of grey 160,
        // faint ink only, 3 mm on (past the gap that ends a line's ink).
        let (y0, y1) = (200, 212);
        let line: Vec<_> = (mm_px(25.0)..mm_px(40.0))
            .step_by(6)
            .map(|x| (x, x + 3, y0, y1, 40))
            .collect();
        let band = Band { y0, y1 };
        let end = mm_px(at::VALUE[1]);
        let washed = |from: f32, to: f32| -> Vec<_> {
            (mm_px(from)..mm_px(to))
                .step_by(6)
                .map(|x| (x, x + 3, y0, y1, 160))
                .collect()
        };
        let ink = painted(&[line.clone(), washed(43.0, 52.0)].concat());
        let (_, x1) = extent(&ink, band, [24.6, at::VALUE[1]], 2.5, false).expect("line");
        assert!(x1 < mm_px(41.0), "the washed words are ink: no test ({x1})");
        assert!(continues_faintly(&ink, band, x1, end));
        // Nothing after the line, or one faint letter's stroke: not cut.
        let ink = painted(&line);
        assert!(!continues_faintly(&ink, band, x1, end));
        let ink = painted(&[line.clone(), washed(45.0, 45.5)].concat());
        assert!(!continues_faintly(&ink, band, x1, end));
    }
}
