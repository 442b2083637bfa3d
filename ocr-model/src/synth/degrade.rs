//! From a flat card to a scan or phone photo: placement and perspective on a procedural background,
//! lighting, glare, blur, sensor noise and JPEG, each drawn from ranges in [`DegradeParams`] whose
//! presets are the three [`Tier`]s.

use image::RgbImage;
use rand::Rng;

use super::SynthError;
use super::geom::{self, Homography, Quad};

/// Difficulty presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// A flatbed scan: straight, clean, mild noise, high-quality JPEG (90-96).
    Scan,
    /// A phone photo on a desk: rotation, tilt, uneven light, mild blur, JPEG 60-90.
    Photo,
    /// A bad phone photo that a person can still read: strong blur and shake (up to about a fifth
    /// of the body text's height), low light, glare, strong tilt, JPEG 20-40.
    Hard,
    /// Photos nobody can read (a small card, blur and shake wider than the letters, little light):
    /// not for scoring but for checking that the reader refuses or flags them instead of guessing.
    Unreadable,
    /// A close-up: the card a little wider than the photo (its corners, often its edges, outside
    /// the frame), nearly square to it, otherwise a phone photo. Not used in training; it checks
    /// the reader's close-up fallback.
    CloseUp,
    /// A photocopy of the card (the fotokopi KTP a patient brings), scanned or photographed flat:
    /// grey, the card's pale blue and its pattern washed out to the paper's white, so that no edge
    /// of the card shows, the print pushed to black, toner specks. Not used in training; it checks
    /// the reader's way to a card without an outline.
    Copy,
    /// A kiosk's low-resolution webcam (640 x 480): a phone photo's conditions, with the card held
    /// to fill 60-90 % of the frame's width, so its text has 4.5-6.7 px per mm (the photo tier's
    /// 5.7-9.1 on the long side) and the camera's blur, measured in pixels, is larger against it.
    Webcam,
    /// A phone photo taken at an angle: the card turned 25-45 degrees away from the camera about an
    /// axis in any direction, seen through a phone's lens (focal length 0.75 of the frame's long
    /// side), so its far side is shorter than its near one and its sides' ratio is far from the
    /// card's 85.6 : 54; otherwise a phone photo. Not used in training; it checks the finder and
    /// the rectification on the tilts a hurried photo has.
    Tilted,
}

impl std::str::FromStr for Tier {
    type Err = SynthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "scan" => Ok(Tier::Scan),
            "photo" => Ok(Tier::Photo),
            "hard" => Ok(Tier::Hard),
            "unreadable" => Ok(Tier::Unreadable),
            "closeup" => Ok(Tier::CloseUp),
            "copy" => Ok(Tier::Copy),
            "webcam" => Ok(Tier::Webcam),
            "tilted" => Ok(Tier::Tilted),
            other => Err(SynthError::BadTier(other.to_owned())),
        }
    }
}

/// Ranges the degradations are drawn from (each `(lo, hi)` is sampled uniformly).
#[derive(Debug, Clone, PartialEq)]
pub struct DegradeParams {
    /// Output size `(width, height)` for landscape frames; portrait frames swap them.
    pub frame: (u32, u32),
    /// Probability of a portrait frame.
    pub portrait: f64,
    /// Card width as a fraction of the frame width.
    pub card_fill: (f32, f32),
    /// Maximum in-plane rotation, degrees either way.
    pub max_rotation_deg: f32,
    /// Maximum corner displacement for perspective, as a fraction of the card width.
    pub perspective: f32,
    /// The card's tilt away from the camera in degrees (0: none), about an axis in the card's plane
    /// in any direction, seen through a pinhole of focal length [`TILT_FOCAL`] ([`place`]).
    pub tilt_deg: (f32, f32),
    /// Whether the card lies on a textured background (else a near-white scanner bed).
    pub textured_background: bool,
    /// Overall brightness factor.
    pub light: (f32, f32),
    /// Strength of the linear lighting gradient across the frame (0 = even).
    pub gradient: (f32, f32),
    /// Probability of a specular glare spot on the card.
    pub glare: f64,
    /// Peak brightness added by a glare spot, in grey levels.
    pub glare_strength: (f32, f32),
    /// Gaussian blur sigma, in output pixels or (with `blur_in_mm`) in millimetres of the card.
    pub blur_sigma: (f32, f32),
    /// Probability of camera-shake (linear motion) blur.
    pub motion: f64,
    /// Length of the motion blur streak, in output pixels or (with `blur_in_mm`) card millimetres.
    pub motion_len: (f32, f32),
    /// Whether blur and shake are measured on the card rather than in pixels: then a small card in
    /// the frame is blurred as much relative to its text as a large one, and stays legible.
    pub blur_in_mm: bool,
    /// Probability of a thumb holding the card, over one of its edges.
    pub thumb: f64,
    /// Probability of a soft shadow (a hand, the phone) across part of the card.
    pub shadow: f64,
    /// Additive noise standard deviation in grey levels.
    pub noise_sigma: (f32, f32),
    /// JPEG quality range, or `None` for lossless PNG output.
    pub jpeg_quality: Option<(u8, u8)>,
    /// Probability that the camera exposes for the dim scene: the frame is gained back up by
    /// `1 / light` after the sensor noise is added (noise grows with the gain, the signal-to-noise
    /// ratio stays that of the dim light), before the JPEG encoder sees it.
    pub auto_exposure: f64,
    /// Whether the card went through a photocopier before the camera or scanner saw it
    /// ([`photocopy`]).
    pub photocopy: bool,
    /// Gain of the red, green and blue channels (times the light): the light's colour that the
    /// camera's white balance left.
    pub cast: [(f32, f32); 3],
}

/// The white balance of every tier: a few hundredths either way per channel.
pub const MILD_CAST: [(f32, f32); 3] = [(0.94, 1.06), (0.96, 1.04), (0.92, 1.06)];

impl Tier {
    /// The preset for this tier.
    pub fn params(self) -> DegradeParams {
        match self {
            Tier::Scan => DegradeParams {
                frame: (960, 640),
                portrait: 0.0,
                card_fill: (0.9, 0.95),
                max_rotation_deg: 0.8,
                perspective: 0.0,
                tilt_deg: (0.0, 0.0),
                textured_background: false,
                light: (0.97, 1.03),
                gradient: (0.0, 0.03),
                glare: 0.0,
                glare_strength: (0.0, 0.0),
                blur_sigma: (0.0, 0.5),
                motion: 0.0,
                motion_len: (0.0, 0.0),
                blur_in_mm: false,
                thumb: 0.0,
                shadow: 0.0,
                noise_sigma: (0.5, 2.5),
                jpeg_quality: Some((90, 96)),
                auto_exposure: 0.0,
                photocopy: false,
                cast: MILD_CAST,
            },
            Tier::Photo => DegradeParams {
                frame: (1024, 768),
                portrait: 0.15,
                card_fill: (0.55, 0.9),
                max_rotation_deg: 15.0,
                perspective: 0.06,
                tilt_deg: (0.0, 0.0),
                textured_background: true,
                light: (0.75, 1.1),
                gradient: (0.05, 0.35),
                glare: 0.1,
                glare_strength: (30.0, 80.0),
                blur_sigma: (0.3, 1.1),
                motion: 0.1,
                motion_len: (2.0, 4.0),
                blur_in_mm: false,
                thumb: 0.25,
                shadow: 0.2,
                noise_sigma: (1.5, 5.0),
                jpeg_quality: Some((60, 90)),
                auto_exposure: 0.0,
                photocopy: false,
                cast: MILD_CAST,
            },
            Tier::Hard => DegradeParams {
                frame: (1024, 768),
                portrait: 0.2,
                card_fill: (0.5, 0.85),
                max_rotation_deg: 15.0,
                perspective: 0.12,
                tilt_deg: (0.0, 0.0),
                textured_background: true,
                light: (0.35, 0.65),
                gradient: (0.2, 0.6),
                glare: 0.6,
                glare_strength: (60.0, 150.0),
                // About 0.9-1.8 px and 3-8 px of shake on a card that fills two thirds of the frame
                // (8 px/mm), as strong relative to the text on a smaller one. The body text's
                // capitals are 1.35-1.55 mm high.
                blur_sigma: (0.11, 0.22),
                motion: 0.4,
                motion_len: (0.35, 0.9),
                blur_in_mm: true,
                thumb: 0.3,
                shadow: 0.35,
                noise_sigma: (5.0, 11.0),
                jpeg_quality: Some((20, 40)),
                auto_exposure: 0.0,
                photocopy: false,
                cast: MILD_CAST,
            },
            // The hard tier made unreadable: a smaller card, less light, blur of half the capitals'
            // height, shake longer than a letter is wide, more noise, worse JPEG.
            Tier::Unreadable => DegradeParams {
                portrait: 0.3,
                card_fill: (0.45, 0.6),
                light: (0.3, 0.6),
                glare: 0.3,
                blur_sigma: (0.45, 0.7),
                motion: 0.6,
                motion_len: (1.4, 2.5),
                shadow: 0.4,
                noise_sigma: (6.0, 12.0),
                jpeg_quality: Some((15, 30)),
                ..Tier::Hard.params()
            },
            // A phone photo with the card overfilling the frame by up to a tenth of its width.
            Tier::CloseUp => DegradeParams {
                portrait: 0.0,
                card_fill: (1.0, 1.1),
                max_rotation_deg: 4.0,
                perspective: 0.02,
                thumb: 0.0,
                ..Tier::Photo.params()
            },
            // A copy on white paper lying flat, scanned or photographed square on: the card takes
            // half the page's width or more, the copier's blur and the camera's mild noise.
            Tier::Copy => DegradeParams {
                portrait: 0.3,
                card_fill: (0.55, 0.9),
                max_rotation_deg: 4.0,
                perspective: 0.01,
                textured_background: false,
                light: (0.95, 1.05),
                gradient: (0.0, 0.08),
                blur_sigma: (0.3, 0.8),
                noise_sigma: (1.0, 4.0),
                jpeg_quality: Some((70, 92)),
                thumb: 0.0,
                photocopy: true,
                ..Tier::Photo.params()
            },
            Tier::Webcam => DegradeParams {
                frame: (640, 480),
                portrait: 0.0,
                card_fill: (0.6, 0.9),
                ..Tier::Photo.params()
            },
            // The tilt makes the perspective; the corners' own jitter is a lens's small one.
            Tier::Tilted => DegradeParams {
                perspective: 0.02,
                tilt_deg: (25.0, 45.0),
                ..Tier::Photo.params()
            },
        }
    }
}

/// Where the card goes in the frame, decided before the card is drawn so it can be drawn at the
/// resolution it will have in the frame.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// Frame size.
    pub frame: (u32, u32),
    /// Card corners in the frame (TL, TR, BR, BL of the card as printed).
    pub corners: Quad,
    /// Pixels per millimetre to draw the card at (about its size in the frame).
    pub px_per_mm: f32,
}

fn range<R: Rng + ?Sized>(rng: &mut R, r: (f32, f32)) -> f32 {
    if r.1 > r.0 {
        rng.random_range(r.0..r.1)
    } else {
        r.0
    }
}

/// Chooses frame, card size, rotation and perspective.
pub fn place<R: Rng + ?Sized>(rng: &mut R, p: &DegradeParams, card_mm: (f32, f32)) -> Placement {
    let (mut fw, mut fh) = p.frame;
    if rng.random_bool(p.portrait) {
        std::mem::swap(&mut fw, &mut fh);
    }
    let (fwf, fhf) = (fw as f32, fh as f32);
    let aspect = card_mm.1 / card_mm.0;
    let rot = range(rng, (-p.max_rotation_deg, p.max_rotation_deg)).to_radians();
    let (sin, cos) = (rot.sin().abs(), rot.cos().abs());
    // Largest card width that still fits (rotated, plus perspective slack) inside the frame.
    let slack = 1.0 + 2.5 * p.perspective;
    let fit_w = fwf / ((cos + aspect * sin) * slack);
    let fit_h = fhf / ((sin + aspect * cos) * slack);
    let max_w = fit_w.min(fit_h) * 0.96;
    // A close-up (a fill of more than the frame) overfills the frame's long side.
    let close_up = p.card_fill.0 >= 1.0;
    let cw = if close_up {
        range(rng, p.card_fill) * fwf.max(fhf)
    } else {
        (range(rng, p.card_fill) * fwf).min(max_w)
    };
    let ch = cw * aspect;
    let half_w = 0.5 * ((cos * cw + sin * ch) * slack);
    let half_h = 0.5 * ((sin * cw + cos * ch) * slack);
    let centre = |frame: f32, half: f32, rng: &mut R| {
        if close_up {
            // Off centre by up to a quarter of what sticks out (or of the room left).
            let spare = (frame / 2.0 - half).abs() / 4.0;
            frame / 2.0 + range(rng, (-spare, spare))
        } else if frame / 2.0 - half > 0.0 {
            range(rng, (half, frame - half))
        } else {
            frame / 2.0
        }
    };
    let (cx, cy) = (centre(fwf, half_w, rng), centre(fhf, half_h, rng));
    let (rs, rc) = rot.sin_cos();
    let mut corners = [[0.0f32; 2]; 4];
    let local = [
        [-cw / 2.0, -ch / 2.0],
        [cw / 2.0, -ch / 2.0],
        [cw / 2.0, ch / 2.0],
        [-cw / 2.0, ch / 2.0],
    ];
    // Perspective: a tilt about the vertical axis shortens the left or right edge, one about the
    // horizontal axis the top or bottom edge; each corner then moves a little on its own.
    let tilt_v = range(rng, (-p.perspective, p.perspective)) * 2.0;
    let tilt_h = range(rng, (-p.perspective, p.perspective)) * 2.0;
    for (i, l) in local.iter().enumerate() {
        let right = i == 1 || i == 2;
        let bottom = i >= 2;
        let mut x = l[0] * (1.0 + if bottom { tilt_h } else { -tilt_h } / 2.0);
        let mut y = l[1] * (1.0 + if right { tilt_v } else { -tilt_v } / 2.0);
        x += range(rng, (-0.3, 0.3)) * p.perspective * cw;
        y += range(rng, (-0.3, 0.3)) * p.perspective * cw;
        let (nx, ny) = (x * rc - y * rs, x * rs + y * rc);
        x = cx + nx;
        y = cy + ny;
        corners[i] = if close_up {
            [x, y]
        } else {
            [x.clamp(1.0, fwf - 1.0), y.clamp(1.0, fhf - 1.0)]
        };
    }
    let tilt = range(rng, p.tilt_deg).to_radians();
    if tilt > 0.0 {
        let axis = range(rng, (0.0, std::f32::consts::TAU));
        corners = tilted(corners, [cx, cy], tilt, axis, (fwf, fhf), rng);
    }
    let top = geom::dist(corners[0], corners[1]);
    let bottom = geom::dist(corners[3], corners[2]);
    let mut px_per_mm = top.max(bottom) / card_mm.0;
    if tilt > 0.0 {
        // Turned about a slanted axis, the card's short sides may be the ones drawn largest.
        let left = geom::dist(corners[0], corners[3]);
        let right = geom::dist(corners[1], corners[2]);
        px_per_mm = px_per_mm.max(left.max(right) / card_mm.1);
    }
    Placement {
        frame: (fw, fh),
        corners,
        px_per_mm,
    }
}

/// The focal length of [`Tier::Tilted`]'s camera, as a share of the frame's long side: a phone's
/// main camera (about 26 mm in 35 mm terms) sees about 75 degrees across the diagonal.
pub const TILT_FOCAL: f32 = 0.75;

/// The card whose corners lie flat around `centre` (frame pixels), turned by `tilt` radians away
/// from the camera about the axis in its plane at angle `axis`, as a pinhole camera of focal length
/// [`TILT_FOCAL`] whose axis meets the frame's centre sees it: the card's centre stays as far from
/// the camera as the flat card was, and moves to a random place where the whole card shows (made
/// smaller first if it no longer fits).
fn tilted<R: Rng + ?Sized>(
    corners: Quad,
    centre: [f32; 2],
    tilt: f32,
    axis: f32,
    frame: (f32, f32),
    rng: &mut R,
) -> Quad {
    let f = TILT_FOCAL * frame.0.max(frame.1);
    let (ux, uy) = (axis.cos(), axis.sin());
    let (st, ct) = tilt.sin_cos();
    // Each corner from the card's centre, in camera space (pixels at the centre's distance f).
    let turned = corners.map(|c| {
        let (x, y) = (c[0] - centre[0], c[1] - centre[1]);
        // Rodrigues' rotation of (x, y, 0) about the unit axis (ux, uy, 0).
        let along = (ux * x + uy * y) * (1.0 - ct);
        [
            x * ct + ux * along,
            y * ct + uy * along,
            (ux * y - uy * x) * st,
        ]
    });
    // The card's centre at (x, y, f) from the camera, the card `scale` times its size.
    let project = |x: f32, y: f32, scale: f32| {
        turned.map(|t| {
            let z = f + scale * t[2];
            [
                frame.0 / 2.0 + f * (x + scale * t[0]) / z,
                frame.1 / 2.0 + f * (y + scale * t[1]) / z,
            ]
        })
    };
    let mut scale = 1.0;
    loop {
        // Seen straight ahead; then moved within the room the frame leaves (a card moved off the
        // axis is seen a little more from the side, so it is checked again).
        let (x0, y0, x1, y1) = geom::bounds(&project(0.0, 0.0, scale));
        let room = (
            (1.0 - x0, frame.0 - 1.0 - x1),
            (1.0 - y0, frame.1 - 1.0 - y1),
        );
        if room.0.0 <= room.0.1 && room.1.0 <= room.1.1 {
            let (x, y) = (range(rng, room.0), range(rng, room.1));
            let q = project(x, y, scale);
            let (x0, y0, x1, y1) = geom::bounds(&q);
            if x0 >= 0.0 && y0 >= 0.0 && x1 <= frame.0 && y1 <= frame.1 {
                return q;
            }
        }
        scale *= 0.95;
    }
}

/// A cheap deterministic generator for per-pixel noise (SplitMix64).
#[derive(Debug, Clone)]
struct Fast(u64);

impl Fast {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Approximately standard normal from the low `n` 16-bit fields of `v` (Irwin-Hall, rescaled).
fn gauss_bits(v: u64, n: u32) -> f32 {
    let s: u32 = (0..n).map(|i| ((v >> (i * 16)) & 0xFFFF) as u32).sum();
    (s as f32 / 65535.0 - n as f32 / 2.0) * (12.0 / n as f32).sqrt()
}

/// Smooth value noise on a coarse grid, bilinearly interpolated.
struct ValueNoise {
    gw: usize,
    gh: usize,
    cell: f32,
    v: Vec<f32>,
}

impl ValueNoise {
    fn new(f: &mut Fast, w: u32, h: u32, cell: f32) -> Self {
        let gw = (w as f32 / cell) as usize + 2;
        let gh = (h as f32 / cell) as usize + 2;
        let v = (0..gw * gh)
            .map(|_| (f.next() >> 40) as f32 / (1u64 << 24) as f32)
            .collect();
        Self { gw, gh, cell, v }
    }
    fn at(&self, x: f32, y: f32) -> f32 {
        let gx = x / self.cell;
        let gy = y / self.cell;
        let (ix, iy) = (
            (gx as usize).min(self.gw - 2),
            (gy as usize).min(self.gh - 2),
        );
        let (tx, ty) = (gx - ix as f32, gy - iy as f32);
        let (tx, ty) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
        let a = self.v[iy * self.gw + ix];
        let b = self.v[iy * self.gw + ix + 1];
        let c = self.v[(iy + 1) * self.gw + ix];
        let d = self.v[(iy + 1) * self.gw + ix + 1];
        a + (b - a) * tx + (c - a) * ty + (a - b - c + d) * tx * ty
    }
}

/// A procedural surface: wood, a plain desk, woven cloth, paper or a scanner bed. Textures are made
/// at half resolution and doubled (the surface is out of focus anyway; sensor noise comes later).
fn surface<R: Rng + ?Sized>(rng: &mut R, w: u32, h: u32, textured: bool) -> RgbImage {
    if !textured {
        let base = rng.random_range(232.0..250.0f32) as u8;
        return RgbImage::from_pixel(w, h, image::Rgb([base, base, base.saturating_sub(2)]));
    }
    // Smooth surfaces at a quarter of the resolution, wood and cloth (fine structure) at half.
    let kind = rng.random_range(0..5u8);
    if matches!(kind, 0 | 2) {
        upsample2(&texture(rng, kind, w / 2 + 1, h / 2 + 1), w, h)
    } else {
        let half = upsample2(
            &texture(rng, kind, w / 4 + 1, h / 4 + 1),
            w / 2 + 1,
            h / 2 + 1,
        );
        upsample2(&half, w, h)
    }
}

/// Doubles an image with bilinear interpolation and crops it to `w` x `h`.
#[inline(never)]
fn upsample2(src: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let s: &[u8] = src;
    let (w, h) = (w as usize, h as usize);
    let mut out = RgbImage::new(w as u32, h as u32);
    let buf: &mut [u8] = &mut out;
    // Each source row doubled horizontally once (as pair sums), then output rows average two of them.
    let mut wide = vec![0u16; sh * w * 3];
    for y in 0..sh {
        let row = &s[y * sw * 3..(y + 1) * sw * 3];
        let dst = &mut wide[y * w * 3..(y + 1) * w * 3];
        for x in 0..w {
            let (x0, x1) = (x / 2, x.div_ceil(2).min(sw - 1));
            for k in 0..3 {
                dst[x * 3 + k] = u16::from(row[x0 * 3 + k]) + u16::from(row[x1 * 3 + k]);
            }
        }
    }
    for y in 0..h {
        let (y0, y1) = (y / 2, y.div_ceil(2).min(sh - 1));
        let a = &wide[y0 * w * 3..(y0 + 1) * w * 3];
        let b = &wide[y1 * w * 3..(y1 + 1) * w * 3];
        for ((o, &p), &q) in buf[y * w * 3..(y + 1) * w * 3].iter_mut().zip(a).zip(b) {
            *o = ((p + q + 2) / 4) as u8;
        }
    }
    out
}

#[inline(never)]
fn texture<R: Rng + ?Sized>(rng: &mut R, kind: u8, w: u32, h: u32) -> RgbImage {
    let mut img = RgbImage::new(w, h);
    let mut f = Fast(rng.random());
    // One brightness and a small hue shift per surface, shared by both colours so wood stays brown.
    let shift = [
        rng.random_range(-1.0..1.0f32),
        rng.random_range(-1.0..1.0f32),
        rng.random_range(-1.0..1.0f32),
    ];
    let bright = rng.random_range(-1.0..1.0f32);
    let pal = |_: &mut R, c: [f32; 3], j: f32| {
        let mut out = [0.0; 3];
        for k in 0..3 {
            out[k] = (c[k] + bright * j + shift[k] * j * 0.35).clamp(0.0, 255.0);
        }
        out
    };
    let (c1, c2) = match kind {
        0 => (
            pal(rng, [150.0, 100.0, 60.0], 30.0),
            pal(rng, [95.0, 60.0, 35.0], 20.0),
        ), // wood
        1 => (
            pal(rng, [200.0, 200.0, 195.0], 40.0),
            pal(rng, [170.0, 170.0, 165.0], 40.0),
        ), // desk
        2 => (
            pal(rng, [60.0, 70.0, 110.0], 50.0),
            pal(rng, [40.0, 45.0, 80.0], 40.0),
        ), // cloth
        3 => (
            pal(rng, [235.0, 230.0, 215.0], 15.0),
            pal(rng, [210.0, 205.0, 190.0], 15.0),
        ), // paper
        _ => (
            pal(rng, [70.0, 70.0, 72.0], 30.0),
            pal(rng, [40.0, 40.0, 42.0], 20.0),
        ), // dark mat
    };
    // Smooth kinds are made at half the resolution of wood and cloth: halve their cells too.
    let sc = if matches!(kind, 0 | 2) { 1.0 } else { 0.5 };
    let coarse = ValueNoise::new(&mut f, w, h, rng.random_range(30.0..100.0) * sc);
    let fine = ValueNoise::new(&mut f, w, h, (rng.random_range(2.0..6.0) * sc).max(1.5));
    let ang = rng.random_range(0.0..std::f32::consts::PI);
    let (ds, dc) = ang.sin_cos();
    let grain = rng.random_range(0.1..0.3f32);
    let weave = rng.random_range(1.25..2.5f32);
    let buf: &mut [u8] = &mut img;
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32, y as f32);
            let t = match kind {
                0 => {
                    // Wood: bands across the grain, warped by coarse noise.
                    let u = fx * dc + fy * ds;
                    let v = -fx * ds + fy * dc;
                    let warp = coarse.at(fx, fy) * 12.0;
                    let band = tri((v * grain + warp) * 0.08);
                    (band * band * 0.6 + fine.at(u * 0.2, v * 3.0) * 0.4).clamp(0.0, 1.0)
                }
                2 => {
                    let a = tri(fx / weave) * 2.0 - 1.0;
                    let b = tri(fy / weave) * 2.0 - 1.0;
                    (0.5 + 0.25 * a * b + 0.5 * (coarse.at(fx, fy) - 0.5)).clamp(0.0, 1.0)
                }
                _ => (coarse.at(fx, fy) * 0.6 + fine.at(fx, fy) * 0.4).clamp(0.0, 1.0),
            };
            let i = (y as usize * w as usize + x as usize) * 3;
            for k in 0..3 {
                buf[i + k] = (c1[k] + (c2[k] - c1[k]) * t).clamp(0.0, 255.0) as u8;
            }
        }
    }
    img
}

/// `v.floor()` without a libm call (baseline x86-64 has no rounding instruction); for |v| < 2^31.
pub fn fast_floor(v: f32) -> f32 {
    let i = v as i32 as f32;
    if i > v { i - 1.0 } else { i }
}

/// A triangle wave with period 1, between 0 and 1 (a cheap stand-in for a sine).
pub fn tri(v: f32) -> f32 {
    let t = v - fast_floor(v);
    1.0 - (2.0 * t - 1.0).abs()
}

/// Whether card-pixel point (x, y) lies inside the rounded card outline.
fn inside_rounded(x: f32, y: f32, w: f32, h: f32, r: f32) -> f32 {
    if x < 0.0 || y < 0.0 || x > w || y > h {
        return 0.0;
    }
    let dx = (r - x).max(x - (w - r));
    let dy = (r - y).max(y - (h - r));
    if dx <= 0.0 || dy <= 0.0 {
        return 1.0;
    }
    let d = (dx * dx + dy * dy).sqrt();
    (r + 0.5 - d).clamp(0.0, 1.0)
}

/// The x extent of the convex quadrilateral `q` over the rows `y0..=y1`, if it reaches them.
fn row_extent(q: &Quad, y0: f32, y1: f32) -> Option<(f32, f32)> {
    let mut lo = f32::MAX;
    let mut hi = f32::MIN;
    for i in 0..4 {
        let (a, b) = (q[i], q[(i + 1) % 4]);
        if a[1] >= y0 && a[1] <= y1 {
            lo = lo.min(a[0]);
            hi = hi.max(a[0]);
        }
        for y in [y0, y1] {
            let (ya, yb) = (a[1].min(b[1]), a[1].max(b[1]));
            if y >= ya && y <= yb && yb > ya {
                let x = a[0] + (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]);
                lo = lo.min(x);
                hi = hi.max(x);
            }
        }
    }
    (lo <= hi).then_some((lo, hi))
}

/// Bilinear sample (8-bit fixed-point weights) of packed RGB `buf` (`w` x `h`) at pixel-centre
/// coordinates (x, y), clamped to the image.
#[inline(always)]
fn sample(buf: &[u8], w: usize, h: usize, x: f32, y: f32) -> [u8; 3] {
    let x = (x - 0.5).max(0.0).min((w - 1) as f32);
    let y = (y - 0.5).max(0.0).min((h - 1) as f32);
    let (x0, y0) = (x as usize, y as usize);
    let dx = if x0 + 1 < w { 3 } else { 0 };
    let dy = if y0 + 1 < h { w * 3 } else { 0 };
    let fx = ((x - x0 as f32) * 256.0) as u32;
    let fy = ((y - y0 as f32) * 256.0) as u32;
    let i = (y0 * w + x0) * 3;
    let (Some(t), Some(b)) = (buf.get(i..i + dx + 3), buf.get(i + dy..i + dy + dx + 3)) else {
        return [0; 3];
    };
    let mut out = [0u8; 3];
    for k in 0..3 {
        let top = u32::from(t[k]) * (256 - fx) + u32::from(t[dx + k]) * fx;
        let bot = u32::from(b[k]) * (256 - fx) + u32::from(b[dx + k]) * fx;
        out[k] = ((top * (256 - fy) + bot * fy + 32768) >> 16) as u8;
    }
    out
}

/// Composites the flat card into a new frame at `pl`, with a soft shadow on textured backgrounds.
pub fn compose<R: Rng + ?Sized>(
    rng: &mut R,
    card: &RgbImage,
    corner_radius_px: f32,
    pl: &Placement,
    p: &DegradeParams,
) -> Result<RgbImage, SynthError> {
    let (fw, fh) = pl.frame;
    let mut out = surface(rng, fw, fh, p.textured_background);
    let (cw, chh) = (card.width() as f32, card.height() as f32);
    let card_quad = geom::rect_quad(0.0, 0.0, cw, chh);
    let inv = Homography::from_quads(&pl.corners, &card_quad).ok_or(SynthError::Geometry)?;
    let m = inv.coefficients();
    let (bx0, by0, bx1, by1) = geom::bounds(&pl.corners);
    let shadow = if p.textured_background {
        rng.random_range(0.15..0.45f32)
    } else {
        0.0
    };
    let sh_off = [
        rng.random_range(-0.008..0.008) * cw,
        rng.random_range(0.0..0.012) * cw,
    ];
    let sh_blur = rng.random_range(0.015..0.04) * cw;
    // Margin around the card for the shadow, in frame pixels (card pixels are about frame pixels).
    let pad = sh_blur * 2.0 + sh_off[0].abs() + sh_off[1].abs();
    let y_start = (by0 - pad).floor().max(0.0) as u32;
    let y_end = ((by1 + pad).ceil() as u32).min(fh);
    let x_start = (bx0 - pad).floor().max(0.0) as u32;
    let x_end = ((bx1 + pad).ceil() as u32).min(fw);
    let (cwu, chu) = (card.width() as usize, card.height() as usize);
    let cbuf: &[u8] = card;
    let buf: &mut [u8] = &mut out;
    let mf = m.map(|v| v as f32);
    for y in y_start..y_end {
        let fy = y as f32 + 0.5;
        // Only the part of the row near the card: the quad's extent over the band [y - pad, y + pad].
        let Some((xa, xb)) = row_extent(&pl.corners, fy - pad, fy + pad) else {
            continue;
        };
        let xs = ((xa - pad).floor().max(x_start as f32)) as u32;
        let xe = ((xb + pad).ceil().min(x_end as f32)) as u32;
        let cu = mf[1] * fy + mf[2];
        let cv = mf[4] * fy + mf[5];
        let cz = mf[7] * fy + mf[8];
        for x in xs..xe {
            let fx = x as f32 + 0.5;
            let inv_w = 1.0 / (mf[6] * fx + cz);
            let u = (mf[0] * fx + cu) * inv_w;
            let v = (mf[3] * fx + cv) * inv_w;
            let i = (y as usize * fw as usize + x as usize) * 3;
            let a = inside_rounded(u, v, cw, chh, corner_radius_px);
            if a >= 1.0 {
                let c = sample(cbuf, cwu, chu, u, v);
                buf[i..i + 3].copy_from_slice(&c);
                continue;
            }
            if shadow > 0.0 {
                // Shadow: distance outside the card outline, offset, with a soft falloff.
                let su = u - sh_off[0];
                let sv = v - sh_off[1];
                let ox = (-su).max(su - cw).max(0.0);
                let oy = (-sv).max(sv - chh).max(0.0);
                let d = (ox * ox + oy * oy).sqrt();
                let t = (1.0 - d / sh_blur).clamp(0.0, 1.0);
                let s = shadow * t * t;
                if s > 0.0 {
                    for k in 0..3 {
                        buf[i + k] = (f32::from(buf[i + k]) * (1.0 - s)) as u8;
                    }
                }
            }
            if a > 0.0 {
                let c = sample(cbuf, cwu, chu, u, v);
                for k in 0..3 {
                    let d = f32::from(buf[i + k]);
                    buf[i + k] = (d + (f32::from(c[k]) - d) * a).clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
    Ok(out)
}

/// A thumb holding the card: a skin-toned, shaded, soft-edged oval over one edge of the card
/// (the bottom, the photo side or the top), reaching a few millimetres in, as at a kiosk where the
/// patient holds the card up to the camera. It stays off the labelled text, which a person would
/// move their thumb from; the reader must not take it for the card's outline or for ink.
pub fn thumb<R: Rng + ?Sized>(
    rng: &mut R,
    img: &mut RgbImage,
    pl: &Placement,
    card_mm: (f32, f32),
    p: &DegradeParams,
) -> Result<(), SynthError> {
    if !rng.random_bool(p.thumb) {
        return Ok(());
    }
    let (cw, ch) = card_mm;
    let to_frame = Homography::from_quads(&geom::rect_quad(0.0, 0.0, cw, ch), &pl.corners)
        .ok_or(SynthError::Geometry)?;
    let to_card = Homography::from_quads(&pl.corners, &geom::rect_quad(0.0, 0.0, cw, ch))
        .ok_or(SynthError::Geometry)?;
    // Centre (card mm), half-axes along and across the edge, and the unit normal into the card.
    let (rx, ry) = (
        rng.random_range(7.5..10.0f32),
        rng.random_range(22.0..35.0f32),
    );
    let side: f32 = rng.random();
    let (centre, normal, reach) = if side < 0.5 {
        let x = rng.random_range(12.0..cw - 12.0);
        ([x, ch], [0.0, -1.0], rng.random_range(1.0..3.5f32))
    } else if side < 0.8 {
        let y = rng.random_range(14.0..34.0f32);
        ([cw, y], [-1.0, 0.0], rng.random_range(2.0..7.0f32))
    } else {
        let x = rng.random_range(6.0..cw - 6.0);
        ([x, 0.0], [0.0, 1.0], rng.random_range(1.0..2.5f32))
    };
    // The oval's far end lies `reach` inside the card; it comes in at a slight slant.
    let c = [
        centre[0] - normal[0] * (ry - reach),
        centre[1] - normal[1] * (ry - reach),
    ];
    let tilt = rng.random_range(-0.35..0.35f32);
    let axis_n = {
        let (s, co) = tilt.sin_cos();
        [
            normal[0] * co - normal[1] * s,
            normal[0] * s + normal[1] * co,
        ]
    };
    let axis_t = [-axis_n[1], axis_n[0]];
    const TONES: [[f32; 3]; 5] = [
        [224.0, 172.0, 135.0],
        [198.0, 140.0, 100.0],
        [170.0, 115.0, 80.0],
        [141.0, 90.0, 60.0],
        [110.0, 70.0, 48.0],
    ];
    let tone = TONES[rng.random_range(0..TONES.len())];
    let soft = rng.random_range(0.6..1.5f32); // edge softness, mm
    // Frame-space bounds of the oval's box.
    let r = rx.max(ry) + soft;
    let box_q = [
        [c[0] - r, c[1] - r],
        [c[0] + r, c[1] - r],
        [c[0] + r, c[1] + r],
        [c[0] - r, c[1] + r],
    ];
    let fq = to_frame.apply_quad(&box_q);
    let (x0, y0, x1, y1) = geom::bounds(&fq);
    let (fw, fh) = (img.width() as i64, img.height() as i64);
    let xs = (x0.floor() as i64).clamp(0, fw);
    let xe = (x1.ceil() as i64).clamp(0, fw);
    let ys = (y0.floor() as i64).clamp(0, fh);
    let ye = (y1.ceil() as i64).clamp(0, fh);
    for y in ys..ye {
        for x in xs..xe {
            let [u, v] = to_card.apply([x as f32 + 0.5, y as f32 + 0.5]);
            let (du, dv) = (u - c[0], v - c[1]);
            let a = (du * axis_t[0] + dv * axis_t[1]) / rx;
            let b = (du * axis_n[0] + dv * axis_n[1]) / ry;
            let d = (a * a + b * b).sqrt();
            // Distance outside the outline in mm, roughly.
            let out = (d - 1.0) * rx.min(ry);
            let alpha = (0.5 - out / soft).clamp(0.0, 1.0);
            if alpha <= 0.0 {
                continue;
            }
            // Rounded shading: lit in the middle, darker towards the rim and the far end.
            let shade = 0.6 + 0.45 * (1.0 - d * d).max(0.0).sqrt() - 0.1 * b.max(0.0);
            let px = img.get_pixel_mut(x as u32, y as u32);
            for (o, tone) in px.0.iter_mut().zip(tone) {
                let t = (tone * shade).clamp(0.0, 255.0);
                let v = f32::from(*o);
                *o = (v + (t - v) * alpha) as u8;
            }
        }
    }
    Ok(())
}

/// A photocopier's pass over the frame, in place: grey levels through the tone curve of a copier's
/// text mode (the paper and the card's pale print to white, the print to black, a ramp between
/// that keeps the letters' edges grey), and toner specks. Draws from `rng` only when called, so
/// the other tiers' frames do not change.
pub fn photocopy<R: Rng + ?Sized>(rng: &mut R, img: &mut RgbImage) {
    let lo = rng.random_range(40.0..90.0f32);
    let hi = rng.random_range(150.0..195.0f32);
    // Specks per million pixels.
    let specks = rng.random_range(0..400u64);
    let mut f = Fast(rng.random());
    for p in img.pixels_mut() {
        let g = (77.0 * f32::from(p[0]) + 150.0 * f32::from(p[1]) + 29.0 * f32::from(p[2])) / 256.0;
        let mut v = ((g - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0;
        if f.next() % 1_000_000 < specks {
            v = v.min(60.0);
        }
        let v = v.round() as u8;
        *p = image::Rgb([v, v, v]);
    }
}

/// Lighting (gradient, brightness, colour cast), glare, blur and noise, in place.
pub fn photometric<R: Rng + ?Sized>(
    rng: &mut R,
    img: &mut RgbImage,
    corners: &Quad,
    px_per_mm: f32,
    p: &DegradeParams,
) {
    let unit = if p.blur_in_mm { px_per_mm } else { 1.0 };
    let (w, h) = (img.width() as usize, img.height() as usize);
    let light = range(rng, p.light);
    let grad = range(rng, p.gradient);
    let ang = rng.random_range(0.0..std::f32::consts::TAU);
    let (gs, gc) = ang.sin_cos();
    let cast = [
        range(rng, p.cast[0]) * light,
        range(rng, p.cast[1]) * light,
        range(rng, p.cast[2]) * light,
    ];
    let glare = if rng.random_bool(p.glare) {
        let t = [
            rng.random_range(0.15..0.85f32),
            rng.random_range(0.15..0.85f32),
        ];
        // Bilinear point inside the card quad.
        let top = [
            corners[0][0] + (corners[1][0] - corners[0][0]) * t[0],
            corners[0][1] + (corners[1][1] - corners[0][1]) * t[0],
        ];
        let bot = [
            corners[3][0] + (corners[2][0] - corners[3][0]) * t[0],
            corners[3][1] + (corners[2][1] - corners[3][1]) * t[0],
        ];
        let c = [
            top[0] + (bot[0] - top[0]) * t[1],
            top[1] + (bot[1] - top[1]) * t[1],
        ];
        let r = geom::dist(corners[0], corners[1]) * rng.random_range(0.05..0.15);
        Some((c, r, range(rng, p.glare_strength)))
    } else {
        None
    };
    // A soft shadow edge across the card: a half-plane through a point on the card, darkened by
    // `depth`, with a penumbra `soft` pixels wide.
    let shadow = if rng.random_bool(p.shadow) {
        let t = [rng.random_range(0.2..0.8f32), rng.random_range(0.2..0.8f32)];
        let top = geom::lerp(corners[0], corners[1], t[0]);
        let bot = geom::lerp(corners[3], corners[2], t[0]);
        let at = geom::lerp(top, bot, t[1]);
        let a = rng.random_range(0.0..std::f32::consts::TAU);
        let width = geom::dist(corners[0], corners[1]);
        Some((
            at,
            [a.cos(), a.sin()],
            rng.random_range(0.2..0.5f32),
            rng.random_range(0.02..0.1f32) * width,
        ))
    } else {
        None
    };
    let diag = ((w * w + h * h) as f32).sqrt();
    // The lighting field is smooth, so blurring first and lighting after is equivalent and lets
    // lighting, glare and noise share one pass.
    let sigma = range(rng, p.blur_sigma) * unit;
    blur(img, sigma);
    if rng.random_bool(p.motion) {
        let len = range(rng, p.motion_len) * unit;
        motion_blur(img, len, rng.random_range(0.0..std::f32::consts::PI));
    }
    let noise = range(rng, p.noise_sigma);
    let exposure = if p.auto_exposure > 0.0 && rng.random_bool(p.auto_exposure) {
        1.0 / light
    } else {
        1.0
    };
    let mut f = Fast(rng.random());
    // Sensor noise from a table of 64k near-Gaussian values, read from a random offset per row and
    // channel: the same statistics as fresh draws per pixel at a fraction of the cost.
    const TABLE: usize = 1 << 16;
    let table: Vec<f32> = (0..TABLE)
        .map(|_| gauss_bits(f.next(), 4) * noise)
        .collect();
    let gx: Vec<f32> = (0..w)
        .map(|x| grad * (x as f32 - w as f32 / 2.0) * gc / diag)
        .collect();
    let mut gain = vec![0.0f32; w * 3];
    let mut add = vec![0.0f32; w * 3];
    let buf: &mut [u8] = img;
    for y in 0..h {
        let fy = y as f32;
        let gy = 1.0 + grad * (fy - h as f32 / 2.0) * gs / diag;
        for (x, g) in gain.chunks_exact_mut(3).enumerate() {
            let mut l = gy + gx[x];
            if let Some((at, n, depth, soft)) = shadow {
                let d = (x as f32 - at[0]) * n[0] + (fy - at[1]) * n[1];
                let t = (0.5 + d / soft).clamp(0.0, 1.0);
                l *= 1.0 - depth * t * t * (3.0 - 2.0 * t);
            }
            g[0] = l * cast[0];
            g[1] = l * cast[1];
            g[2] = l * cast[2];
        }
        // Luminance noise shared by the three channels, plus weaker independent colour noise.
        let bits = f.next();
        let lum = (bits as usize) % (TABLE - w);
        let chroma: [usize; 3] =
            [0, 1, 2].map(|k| ((bits >> (16 + 16 * k)) as usize) % (TABLE - w));
        for (x, a) in add.chunks_exact_mut(3).enumerate() {
            let l = table[lum + x];
            a[0] = l + 0.3 * table[chroma[0] + x];
            a[1] = l + 0.3 * table[chroma[1] + x];
            a[2] = l + 0.3 * table[chroma[2] + x];
        }
        if let Some((c, r, s)) = glare
            && (fy - c[1]).abs() < 3.0 * r
        {
            for (x, a) in add.chunks_exact_mut(3).enumerate() {
                let d2 = ((x as f32 - c[0]).powi(2) + (fy - c[1]).powi(2)) / (r * r);
                if d2 < 9.0 {
                    let g = s * (-d2).exp();
                    a[0] += g;
                    a[1] += g;
                    a[2] += g;
                }
            }
        }
        let row = &mut buf[y * w * 3..(y + 1) * w * 3];
        for ((o, g), a) in row.iter_mut().zip(&gain).zip(&add) {
            *o = ((f32::from(*o) * g + a) * exposure).clamp(0.0, 255.0) as u8;
        }
    }
}

/// Camera shake: the mean of copies of the image shifted along a line of `len` pixels at `angle`.
pub fn motion_blur(img: &mut RgbImage, len: f32, angle: f32) {
    let taps = len.round().max(1.0) as i32;
    if taps < 2 {
        return;
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (sn, cs) = angle.sin_cos();
    let offsets: Vec<(isize, isize)> = (0..taps)
        .map(|i| {
            let t = i as f32 - (taps - 1) as f32 / 2.0;
            ((t * cs).round() as isize, (t * sn).round() as isize)
        })
        .collect();
    let src = img.as_raw().clone();
    let stride = w * 3;
    let mut acc = vec![0u16; stride];
    let n = offsets.len() as u16;
    let buf: &mut [u8] = img;
    for y in 0..h {
        acc.fill(0);
        for &(dx, dy) in &offsets {
            let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
            let row = &src[yy * stride..(yy + 1) * stride];
            // Shift by dx pixels with edge replication.
            let s = dx.clamp(-(w as isize - 1), w as isize - 1);
            let (dst_from, src_from, count) = if s >= 0 {
                (0, s as usize * 3, stride - s as usize * 3)
            } else {
                ((-s) as usize * 3, 0, stride - (-s) as usize * 3)
            };
            for (a, &v) in acc[dst_from..dst_from + count]
                .iter_mut()
                .zip(&row[src_from..src_from + count])
            {
                *a += u16::from(v);
            }
            let (edge_lo, edge_hi) = if s >= 0 {
                (count, stride)
            } else {
                (0, dst_from)
            };
            let edge_px = if s >= 0 { stride - 3 } else { 0 };
            for i in edge_lo..edge_hi {
                acc[i] += u16::from(row[edge_px + i % 3]);
            }
        }
        for (o, &a) in buf[y * stride..(y + 1) * stride].iter_mut().zip(&acc) {
            *o = ((a + n / 2) / n) as u8;
        }
    }
}

/// Separable Gaussian blur with integer weights (sum 256); edges replicate. The inner loops run
/// over whole rows so the compiler vectorises them.
pub fn blur(img: &mut RgbImage, sigma: f32) {
    if sigma < 0.2 {
        return;
    }
    let r = (2.5 * sigma).ceil().max(1.0) as usize;
    let raw: Vec<f32> = (0..=2 * r)
        .map(|i| {
            let d = i as f32 - r as f32;
            (-d * d / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let total: f32 = raw.iter().sum();
    // Weights sum to 256 so sums fit u16 (255 * 256 + 128 < 65536), which SSE2 multiplies natively.
    let mut k: Vec<u16> = raw.iter().map(|v| (v / total * 256.0) as u16).collect();
    let rest = 256 - k.iter().sum::<u16>();
    k[r] += rest;

    let (w, h) = (img.width() as usize, img.height() as usize);
    let stride = w * 3;
    let buf: &mut [u8] = img;
    let mut padded = vec![0u8; stride + 6 * r];
    let mut acc = vec![0u16; stride];
    for y in 0..h {
        let row = &mut buf[y * stride..(y + 1) * stride];
        for i in 0..r {
            padded[i * 3..i * 3 + 3].copy_from_slice(&row[..3]);
            let o = 3 * r + stride + i * 3;
            padded[o..o + 3].copy_from_slice(&row[stride - 3..]);
        }
        padded[3 * r..3 * r + stride].copy_from_slice(row);
        acc.fill(0);
        for (j, &kj) in k.iter().enumerate() {
            for (a, &v) in acc.iter_mut().zip(&padded[3 * j..3 * j + stride]) {
                *a += kj * u16::from(v);
            }
        }
        for (o, &a) in row.iter_mut().zip(&acc) {
            *o = ((a + 128) >> 8) as u8;
        }
    }
    let src = buf.to_vec();
    for y in 0..h {
        acc.fill(0);
        for (j, &kj) in k.iter().enumerate() {
            let yy = (y + j).saturating_sub(r).min(h - 1);
            for (a, &v) in acc.iter_mut().zip(&src[yy * stride..(yy + 1) * stride]) {
                *a += kj * u16::from(v);
            }
        }
        for (o, &a) in buf[y * stride..(y + 1) * stride].iter_mut().zip(&acc) {
            *o = ((a + 128) >> 8) as u8;
        }
    }
}

/// Encodes as JPEG at `quality`, chroma subsampled 4:2:0 as phone cameras do.
pub fn jpeg_encode(img: &RgbImage, quality: u8) -> Result<Vec<u8>, SynthError> {
    let mut bytes = Vec::new();
    let (w, h) = (
        u16::try_from(img.width()).map_err(|_| SynthError::Geometry)?,
        u16::try_from(img.height()).map_err(|_| SynthError::Geometry)?,
    );
    jpeg_encoder::Encoder::new(&mut bytes, quality).encode(
        img.as_raw(),
        w,
        h,
        jpeg_encoder::ColorType::Rgb,
    )?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn placement_keeps_the_card_inside_the_frame() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for tier in [
            Tier::Scan,
            Tier::Photo,
            Tier::Hard,
            Tier::Unreadable,
            Tier::Webcam,
            Tier::Tilted,
        ] {
            let p = tier.params();
            for _ in 0..500 {
                let pl = place(&mut rng, &p, (85.6, 54.0));
                for c in pl.corners {
                    assert!(c[0] >= 0.0 && c[1] >= 0.0, "{tier:?} {c:?}");
                    assert!(
                        c[0] <= pl.frame.0 as f32 && c[1] <= pl.frame.1 as f32,
                        "{tier:?} {c:?}"
                    );
                }
                assert!(pl.px_per_mm > 4.0, "{tier:?} {}", pl.px_per_mm);
            }
        }
    }

    #[test]
    fn webcam_cards_are_landscape_and_smaller_than_photos() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mean_px_per_mm = |tier: Tier, rng: &mut ChaCha8Rng| {
            let p = tier.params();
            let mut sum = 0.0;
            for _ in 0..400 {
                let pl = place(rng, &p, (85.6, 54.0));
                if tier == Tier::Webcam {
                    assert_eq!(pl.frame, (640, 480));
                    // 60-90 % of 640 px over 85.6 mm, a little more for a tilted near edge.
                    assert!((4.3..7.3).contains(&pl.px_per_mm), "{}", pl.px_per_mm);
                }
                sum += pl.px_per_mm;
            }
            sum / 400.0
        };
        let webcam = mean_px_per_mm(Tier::Webcam, &mut rng);
        let photo = mean_px_per_mm(Tier::Photo, &mut rng);
        assert!(webcam < 0.8 * photo, "webcam {webcam} photo {photo}");
    }

    #[test]
    fn auto_exposure_gains_a_dim_frame_back_up_with_its_noise() {
        let dim = DegradeParams {
            light: (0.5, 0.5),
            gradient: (0.0, 0.0),
            glare: 0.0,
            shadow: 0.0,
            blur_sigma: (0.0, 0.0),
            motion: 0.0,
            noise_sigma: (4.0, 4.0),
            ..Tier::Hard.params()
        };
        let corners = [[0.0, 0.0], [80.0, 0.0], [80.0, 60.0], [0.0, 60.0]];
        let stats = |p: &DegradeParams| {
            let mut img = RgbImage::from_pixel(80, 60, image::Rgb([160, 160, 160]));
            photometric(
                &mut ChaCha8Rng::seed_from_u64(3),
                &mut img,
                &corners,
                8.0,
                p,
            );
            let v: Vec<f64> = img.pixels().map(|p| f64::from(p.0[1])).collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
            (mean, sd)
        };
        let (m0, s0) = stats(&dim);
        let (m1, s1) = stats(&DegradeParams {
            auto_exposure: 1.0,
            ..dim.clone()
        });
        // Dim: about 80 grey levels; exposed: back to about 160, the noise doubled with it.
        assert!((m0 - 80.0).abs() < 6.0, "{m0}");
        assert!((m1 - 160.0).abs() < 12.0, "{m1}");
        assert!(s1 > 1.6 * s0 && s1 < 2.4 * s0, "{s0} {s1}");
    }

    #[test]
    fn a_photocopy_washes_the_card_out_to_the_paper_and_keeps_the_print_black() {
        // The card's pale blue, a scanner bed's white, the print's near-black.
        let mut img = RgbImage::from_fn(30, 10, |x, _| match x / 10 {
            0 => image::Rgb([186, 214, 236]),
            1 => image::Rgb([240, 240, 238]),
            _ => image::Rgb([35, 38, 50]),
        });
        photocopy(&mut ChaCha8Rng::seed_from_u64(7), &mut img);
        for (x, _, p) in img.enumerate_pixels() {
            let [r, g, b] = p.0;
            assert!(r == g && g == b, "grey: {:?}", p.0);
            match x / 10 {
                0 | 1 => assert!(r >= 235 || r <= 60, "paper or a speck: {r}"),
                _ => assert!(r <= 10, "print: {r}"),
            }
        }
        // The card and the paper around it come out alike: no edge left to find.
        let (card, bed) = (img.get_pixel(5, 5).0[0], img.get_pixel(15, 5).0[0]);
        assert_eq!((card, bed), (255, 255));
    }

    #[test]
    fn blur_keeps_a_flat_image_flat() {
        let mut img = RgbImage::from_pixel(40, 30, image::Rgb([100, 150, 200]));
        blur(&mut img, 1.7);
        blur(&mut img, 0.5);
        motion_blur(&mut img, 6.0, 0.7);
        motion_blur(&mut img, 5.0, 2.9);
        assert!(img.pixels().all(|p| p.0 == [100, 150, 200]));
    }
}
