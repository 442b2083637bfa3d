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
//!
//! Here: the rectified card, the photo's tests (turned half a turn, mirrored), the NIK's blur and
//! glare, and cutting a line out. `ink`: the ink map and its bands. `lines`: the rows, their keys
//! and their boxes. `print`: the print's skew and extent (close-ups, photocopies). `tests`: all
//! of their tests.

mod ink;
mod lines;
mod print;
#[cfg(test)]
mod tests;

pub use ink::Ink;
pub use lines::{LayoutError, LineBox, find_lines};
pub use print::Print;

use image::GrayImage;

use crate::geom::{Homography, Quad, rect_quad};
use ink::{mm_px, percentile};

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
