//! The front of an e-KTP, drawn flat: the guilloche background, header, NIK, the labelled rows, the
//! photo placeholder, issue place and date and the signature, with the box and text of every line.
//!
//! Geometry is in millimetres on the 85.6 x 54 mm card (ID-1) and scaled by `px_per_mm`. The
//! proportions follow the public layout of the card: two centred bold header lines, a large NIK line,
//! twelve "Label : VALUE" rows (Gol. Darah shares the Jenis Kelamin row), the photo at the right with
//! the issue place, date and signature below it.

use ab_glyph::PxScale;
use image::{Rgb, RgbImage};
use rand::Rng;

use super::fonts::{FontSet, Role};
use super::identity::Identity;
use super::text::{self, TextStyle};

/// Card width in millimetres (ISO/IEC 7810 ID-1).
pub const CARD_W_MM: f32 = 85.6;
/// Card height in millimetres.
pub const CARD_H_MM: f32 = 54.0;
/// Corner radius in millimetres.
pub const CORNER_MM: f32 = 3.2;

/// What a printed line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineRole {
    /// One of the two header lines.
    Header,
    /// A field label such as "Nama" (the colon is not part of it).
    Label,
    /// A field value.
    Value,
    /// Issue place or date under the photo.
    Issue,
}

/// One printed line with its box on the flat card.
#[derive(Debug, Clone, PartialEq)]
pub struct CardLine {
    /// What the line is.
    pub role: LineRole,
    /// The ground-truth key the line belongs to (`"nik"`, `"address"`, ...), or for labels and issue
    /// lines a descriptive key (`"label"`, `"issue_place"`, `"issue_date"`).
    pub key: &'static str,
    /// Exactly the characters printed.
    pub text: String,
    /// `(x0, y0, x1, y1)` in card pixels: the advance of the text, from 1.35 cap heights above the
    /// baseline to 0.45 below.
    pub rect: [f32; 4],
}

/// The drawn card.
#[derive(Debug)]
pub struct Card {
    /// The card face, `CARD_W_MM * px_per_mm` wide.
    pub image: RgbImage,
    /// Pixels per millimetre.
    pub px_per_mm: f32,
    /// Every printed line.
    pub lines: Vec<CardLine>,
    /// The address as printed, one entry per line.
    pub address_lines: Vec<String>,
    /// File names of the faces used (body, header, NIK).
    pub faces: [&'static str; 3],
}

/// Per-card variation of the print: small offsets and ink, so no two cards align to the pixel.
#[derive(Debug, Clone, Copy)]
struct Print {
    dx: f32,
    dy: f32,
    ink: [u8; 3],
    squeeze: f32,
}

/// Stroke weight of one role's print: emboldening as a share of the cap height, or thinning.
#[derive(Debug, Clone, Copy)]
struct Weight {
    bold: f32,
    thin: f32,
}

impl Weight {
    /// Most cards print as the face was drawn; some heavier (ink spread, a bold cut), some lighter.
    fn draw<R: Rng + ?Sized>(rng: &mut R) -> Weight {
        let u: f32 = rng.random();
        if u < 0.5 {
            Weight {
                bold: 0.0,
                thin: 0.0,
            }
        } else if u < 0.85 {
            Weight {
                bold: rng.random_range(0.015..0.1),
                thin: 0.0,
            }
        } else {
            Weight {
                bold: 0.0,
                thin: rng.random_range(0.15..0.5),
            }
        }
    }

    fn apply(self, style: &mut TextStyle<'_>) {
        style.embolden = self.bold * style.cap_height();
        style.thin = self.thin;
    }
}

struct Ctx<'a> {
    img: RgbImage,
    s: f32,
    lines: Vec<CardLine>,
    body: TextStyle<'a>,
    header: TextStyle<'a>,
    nik: TextStyle<'a>,
    print: Print,
}

impl Ctx<'_> {
    /// Draws `text` with the style of `which` at `x_mm` (left, or centre when `centred`) on the
    /// baseline `base_mm`; records the line unless `key` is empty.
    #[allow(clippy::too_many_arguments)]
    fn put(
        &mut self,
        which: Role,
        role: LineRole,
        key: &'static str,
        text: &str,
        x_mm: f32,
        base_mm: f32,
        centred: bool,
        max_w_mm: Option<f32>,
    ) {
        let mut style = match which {
            Role::Body => self.body,
            Role::Header => self.header,
            Role::Nik => self.nik,
        };
        // Squeeze a line that would overrun its column, as the card printer does.
        if let Some(max) = max_w_mm {
            let w = style.width(text);
            let max = max * self.s;
            if w > max {
                style.scale.x *= (max / w).max(0.6);
            }
        }
        let w = style.width(text);
        let mut x = (x_mm + self.print.dx) * self.s;
        if centred {
            x -= w / 2.0;
        }
        let b = (base_mm + self.print.dy) * self.s;
        text::draw(&mut self.img, &style, text, x, b);
        if !key.is_empty() {
            let cap = style.cap_height();
            self.lines.push(CardLine {
                role,
                key,
                text: text.to_owned(),
                rect: [
                    x - 0.1 * cap,
                    b - 1.35 * cap,
                    x + w + 0.1 * cap,
                    b + 0.45 * cap,
                ],
            });
        }
    }
}

/// Pixel size at which `font` has capital letters `cap_px` tall.
fn scale_for_cap(style: &TextStyle<'_>, cap_px: f32) -> PxScale {
    let unit = TextStyle {
        scale: PxScale::from(100.0),
        ..*style
    };
    let per = unit.cap_height() / 100.0;
    PxScale::from(cap_px / per.max(0.3))
}

/// Splits `text` at spaces into lines no wider than `max_px`; a word longer than a line stays whole.
fn wrap(style: &TextStyle<'_>, text: &str, max_px: f32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let trial = if cur.is_empty() {
            word.to_owned()
        } else {
            format!("{cur} {word}")
        };
        if !cur.is_empty() && style.width(&trial) > max_px {
            lines.push(std::mem::replace(&mut cur, word.to_owned()));
        } else {
            cur = trial;
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Draws the card for `id` at `px_per_mm` with faces from `fonts`.
pub fn draw<R: Rng + ?Sized>(rng: &mut R, id: &Identity, fonts: &FontSet, px_per_mm: f32) -> Card {
    let s = px_per_mm;
    let w = (CARD_W_MM * s).round() as u32;
    let h = (CARD_H_MM * s).round() as u32;
    let mut img = RgbImage::new(w, h);
    background(rng, &mut img, s);

    let pick_face = |rng: &mut R, role: Role| fonts.face(fonts.pick(role, rng));
    let body_face = pick_face(rng, Role::Body);
    let header_face = pick_face(rng, Role::Header);
    let nik_face = pick_face(rng, Role::Nik);

    let grey = rng.random_range(10..60u8);
    let print = Print {
        dx: rng.random_range(-0.5..0.5),
        dy: rng.random_range(-0.4..0.4),
        ink: [grey, grey, grey.saturating_add(rng.random_range(0..25))],
        squeeze: rng.random_range(0.9..1.04),
    };
    // One printer's weight for the body and header; the NIK's face varies more, so its own.
    let weight = Weight::draw(rng);
    let nik_weight = Weight::draw(rng);
    fn style(face: &super::fonts::Face, print: Print) -> TextStyle<'_> {
        TextStyle {
            font: &face.font,
            scale: PxScale::from(10.0),
            tracking: 0.0,
            embolden: 0.0,
            thin: 0.0,
            color: print.ink,
            opacity: 0.97 - f32::from(print.ink[0]) / 600.0,
        }
    }
    let mut body = style(body_face, print);
    body.scale = scale_for_cap(&body, rng.random_range(1.35..1.55) * s);
    body.scale.x *= print.squeeze;
    weight.apply(&mut body);
    let mut header = style(header_face, print);
    header.scale = scale_for_cap(&header, rng.random_range(1.8..2.1) * s);
    weight.apply(&mut header);
    let mut nik = style(nik_face, print);
    nik.scale = scale_for_cap(&nik, rng.random_range(2.3..2.7) * s);
    nik.tracking = rng.random_range(0.0..0.25) * s;
    nik_weight.apply(&mut nik);

    let mut c = Ctx {
        img,
        s,
        lines: Vec::new(),
        body,
        header,
        nik,
        print,
    };

    // Header.
    let mid = CARD_W_MM / 2.0;
    let h1 = format!("PROVINSI {}", id.province);
    c.put(
        Role::Header,
        LineRole::Header,
        "province",
        &h1,
        mid,
        4.6,
        true,
        Some(80.0),
    );
    c.put(
        Role::Header,
        LineRole::Header,
        "regency",
        &id.regency,
        mid,
        7.8,
        true,
        Some(80.0),
    );

    // NIK.
    let (label_x, colon_x, value_x, value_max) = (3.2, 23.6, 25.2, 61.8);
    c.put(
        Role::Nik,
        LineRole::Label,
        "label",
        "NIK",
        label_x,
        13.9,
        false,
        None,
    );
    c.put(Role::Nik, LineRole::Value, "", ":", 16.6, 13.9, false, None);
    c.put(
        Role::Nik,
        LineRole::Value,
        "nik",
        &id.nik,
        19.6,
        13.9,
        false,
        Some(value_max - 19.6),
    );

    // Rows.
    let pitch = rng.random_range(2.3..2.45);
    let mut base = 17.3;
    let max_w = value_max - value_x;
    let row = |c: &mut Ctx<'_>, lx: f32, label: &str, key: &'static str, value: &str, base: f32| {
        c.put(
            Role::Body,
            LineRole::Label,
            "label",
            label,
            lx,
            base,
            false,
            None,
        );
        c.put(
            Role::Body,
            LineRole::Value,
            "",
            ":",
            colon_x,
            base,
            false,
            None,
        );
        c.put(
            Role::Body,
            LineRole::Value,
            key,
            value,
            value_x,
            base,
            false,
            Some(max_w),
        );
    };
    row(&mut c, label_x, "Nama", "name", &id.name, base);
    base += pitch;
    row(
        &mut c,
        label_x,
        "Tempat/Tgl Lahir",
        "birth",
        &id.birth_line(),
        base,
    );
    base += pitch;
    row(
        &mut c,
        label_x,
        "Jenis Kelamin",
        "sex",
        id.sex.printed(),
        base,
    );
    // Gol. Darah sits right of Jenis Kelamin; its colon follows the label (wide faces push it).
    let gol_x = 44.5;
    c.put(
        Role::Body,
        LineRole::Label,
        "label",
        "Gol. Darah",
        gol_x,
        base,
        false,
        None,
    );
    let gol_end = gol_x + c.body.width("Gol. Darah") / s;
    let gol_colon = (gol_end + 0.8).max(54.2);
    c.put(
        Role::Body,
        LineRole::Value,
        "",
        ":",
        gol_colon,
        base,
        false,
        None,
    );
    c.put(
        Role::Body,
        LineRole::Value,
        "blood_type",
        id.blood_type,
        gol_colon + 1.4,
        base,
        false,
        None,
    );
    base += pitch;
    let address_lines = wrap(&c.body, &id.address, max_w * s);
    for (i, line) in address_lines.iter().enumerate() {
        if i == 0 {
            row(&mut c, label_x, "Alamat", "address", line, base);
        } else {
            c.put(
                Role::Body,
                LineRole::Value,
                "address",
                line,
                value_x,
                base,
                false,
                Some(max_w),
            );
        }
        base += pitch;
    }
    let rows: [(&str, &'static str, String); 8] = [
        ("RT/RW", "rt_rw", id.rt_rw.clone()),
        ("Kel/Desa", "village", id.village.clone()),
        ("Kecamatan", "district", id.district.clone()),
        ("Agama", "religion", id.religion.to_owned()),
        (
            "Status Perkawinan",
            "marital_status",
            id.marital_status.to_owned(),
        ),
        ("Pekerjaan", "occupation", id.occupation.to_owned()),
        ("Kewarganegaraan", "nationality", id.nationality.to_owned()),
        ("Berlaku Hingga", "valid_until", id.valid_until_printed()),
    ];
    // Real cards indent RT/RW, Kel/Desa and Kecamatan under Alamat; keep the label column.
    for (label, key, value) in &rows {
        let lx = if matches!(*key, "rt_rw" | "village" | "district") {
            label_x + 1.2
        } else {
            label_x
        };
        row(&mut c, lx, label, key, value, base);
        base += pitch;
    }

    // Photo, issue place and date, signature.
    let (px0, py0, px1, py1) = (63.4, 12.0, 81.6, 36.0);
    photo(
        rng,
        &mut c.img,
        s,
        [
            px0 + print.dx,
            py0 + print.dy,
            px1 + print.dx,
            py1 + print.dy,
        ],
    );
    let pc = (px0 + px1) / 2.0;
    let issue_place = id.issue_place.clone();
    c.put(
        Role::Body,
        LineRole::Issue,
        "issue_place",
        &issue_place,
        pc,
        39.4,
        true,
        Some(22.0),
    );
    c.put(
        Role::Body,
        LineRole::Issue,
        "issue_date",
        &id.issue_date.dmy(),
        pc,
        42.0,
        true,
        None,
    );
    signature(
        rng,
        &mut c.img,
        s,
        [pc - 8.0 + print.dx, 43.5 + print.dy, pc + 8.0, 50.5],
        print.ink,
    );

    Card {
        image: c.img,
        px_per_mm: s,
        lines: c.lines,
        address_lines,
        faces: [
            body_face.spec.file,
            header_face.spec.file,
            nik_face.spec.file,
        ],
    }
}

/// Light blue-green base with families of fine wavy lines and a rosette, like the card's security
/// print. Built from per-row and per-column tables so the per-pixel work is a few multiplies.
#[inline(never)]
fn background<R: Rng + ?Sized>(rng: &mut R, img: &mut RgbImage, s: f32) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let jitter = |rng: &mut R, c: f32, r: f32| (c + rng.random_range(-r..r)).clamp(0.0, 255.0);
    let left = [
        jitter(rng, 184.0, 12.0),
        jitter(rng, 215.0, 10.0),
        jitter(rng, 240.0, 10.0),
    ];
    let right = [
        jitter(rng, 206.0, 12.0),
        jitter(rng, 231.0, 10.0),
        jitter(rng, 226.0, 12.0),
    ];
    let line_col = [
        jitter(rng, 120.0, 30.0),
        jitter(rng, 170.0, 25.0),
        jitter(rng, 200.0, 25.0),
    ];
    let line_col2 = [
        jitter(rng, 170.0, 25.0),
        jitter(rng, 200.0, 20.0),
        jitter(rng, 170.0, 25.0),
    ];

    // Family A: near-horizontal waves, y + a*sin(x): table over x.
    let sp_a = rng.random_range(0.55..0.8) * s;
    let amp_a = rng.random_range(0.6..1.6) * s;
    let k_a = std::f32::consts::TAU / (rng.random_range(9.0..18.0) * s);
    let ph_a = rng.random_range(0.0..std::f32::consts::TAU);
    let ta: Vec<f32> = (0..w)
        .map(|x| amp_a * (x as f32 * k_a + ph_a).sin())
        .collect();
    // Family B: near-vertical waves, x + b*sin(y): table over y.
    let sp_b = rng.random_range(0.7..1.1) * s;
    let amp_b = rng.random_range(0.8..2.0) * s;
    let k_b = std::f32::consts::TAU / (rng.random_range(6.0..12.0) * s);
    let ph_b = rng.random_range(0.0..std::f32::consts::TAU);
    let tb: Vec<f32> = (0..h)
        .map(|y| amp_b * (y as f32 * k_b + ph_b).sin())
        .collect();
    let strength_a = rng.random_range(0.18..0.35);
    let strength_b = rng.random_range(0.10..0.25);
    let line_w = (0.09 * s).max(0.6);
    let inv_line_w = 1.0 / line_w;

    let cx = rng.random_range(30.0..45.0) * s;
    let cy = rng.random_range(24.0..32.0) * s;
    let rmax = rng.random_range(12.0..18.0) * s;
    let petals = rng.random_range(8..16) as f32;
    let ring_sp = rng.random_range(0.8..1.3) * s;

    // Anti-aliased line intensity as a function of the phase within one period `sp`, tabulated
    // (1024 steps) so the per-pixel cost is a multiply and a load.
    let lut = |sp: f32, strength: f32| -> Vec<f32> {
        (0..1024)
            .map(|i| {
                let d = i as f32 / 1024.0;
                let d = d.min(1.0 - d) * sp;
                (1.0 - d * inv_line_w).max(0.0) * strength
            })
            .collect()
    };
    let lut_a = lut(sp_a, strength_a);
    let lut_b = lut(sp_b, strength_b);
    let lut_r = lut(ring_sp, 0.22);
    let ridge =
        |table: &[f32], v: f32, sp: f32| table[((v * (1024.0 / sp)) as i32 & 1023) as usize];

    // Base colour per column (a left-to-right tint).
    let base: Vec<[f32; 3]> = (0..w)
        .map(|x| {
            let t = x as f32 / w as f32;
            [0, 1, 2].map(|k| left[k] + (right[k] - left[k]) * t)
        })
        .collect();
    let buf: &mut [u8] = img;
    for y in 0..h {
        let fy = y as f32;
        let dy = fy - cy;
        let row = &mut buf[y * w * 3..(y + 1) * w * 3];
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let fx = x as f32;
            let a = ridge(&lut_a, fy + ta[x], sp_a);
            let b = ridge(&lut_b, fx + tb[y], sp_b);
            let dx = fx - cx;
            let r2 = dx * dx + dy * dy;
            let mut rz = 0.0;
            if r2 < rmax * rmax {
                let r = r2.sqrt();
                // Petals from a "diamond angle" (monotone in the true angle, no trigonometry).
                let q = dy / (dx.abs() + dy.abs() + 1e-6);
                let ang = if dx >= 0.0 { q } else { 2.0 * q.signum() - q };
                let wave = super::degrade::tri(ang * petals * 0.25) * 2.0 - 1.0;
                let rr = r + 0.35 * ring_sp * wave;
                rz = ridge(&lut_r, rr, ring_sp) * (1.0 - r / rmax);
            }
            let col = &base[x];
            for k in 0..3 {
                let mut v = col[k];
                v += (line_col[k] - v) * a;
                v += (line_col2[k] - v) * b;
                v += (line_col[k] - v) * rz;
                px[k] = v.clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// A synthetic portrait placeholder: plain red or blue backdrop, a featureless head-and-shoulders
/// silhouette. Never a face.
#[inline(never)]
fn photo<R: Rng + ?Sized>(rng: &mut R, img: &mut RgbImage, s: f32, r: [f32; 4]) {
    let (x0, y0, x1, y1) = (
        (r[0] * s) as i64,
        (r[1] * s) as i64,
        (r[2] * s) as i64,
        (r[3] * s) as i64,
    );
    let backdrop: [f32; 3] = if rng.random_bool(0.5) {
        [
            rng.random_range(170.0..215.0),
            rng.random_range(25.0..60.0),
            rng.random_range(30.0..60.0),
        ]
    } else {
        [
            rng.random_range(20.0..60.0),
            rng.random_range(80.0..130.0),
            rng.random_range(170.0..220.0),
        ]
    };
    let skin = {
        let t = rng.random_range(0.0..1.0f32);
        [150.0 + 70.0 * t, 105.0 + 65.0 * t, 75.0 + 60.0 * t]
    };
    let hair = [rng.random_range(10.0..40.0f32); 3];
    let cloth: [f32; 3] = match rng.random_range(0..4) {
        0 => [30.0, 30.0, 35.0],
        1 => [225.0, 225.0, 220.0],
        2 => [40.0, 50.0, 90.0],
        _ => [
            rng.random_range(40.0..200.0),
            rng.random_range(40.0..200.0),
            rng.random_range(40.0..200.0),
        ],
    };
    let covered = rng.random_bool(0.3);
    let (pw, ph) = ((x1 - x0) as f32, (y1 - y0) as f32);
    let hx = 0.5 + rng.random_range(-0.04..0.04);
    let (hy, hrx, hry) = (
        0.42,
        rng.random_range(0.2..0.25),
        rng.random_range(0.25..0.3),
    );
    for y in y0.max(0)..y1.min(i64::from(img.height())) {
        for x in x0.max(0)..x1.min(i64::from(img.width())) {
            let u = (x - x0) as f32 / pw;
            let v = (y - y0) as f32 / ph;
            let mut col = backdrop;
            let shade = 1.0 - 0.25 * v;
            for c in &mut col {
                *c *= shade;
            }
            // Shoulders: a wide ellipse rising from the bottom edge.
            let su = (u - hx) / 0.48;
            let sv = (v - 1.08) / 0.36;
            if su * su + sv * sv < 1.0 {
                col = cloth;
            }
            // Neck.
            if (u - hx).abs() < 0.09 && v > 0.6 && v < 0.8 {
                col = skin;
            }
            // Head, with hair (or a head cover) on the upper part.
            let du = (u - hx) / hrx;
            let dv = (v - hy) / hry;
            let d = du * du + dv * dv;
            if d < 1.0 {
                col = skin;
                if dv < -0.35 + 0.25 * du * du || (covered && d > 0.55) {
                    col = if covered { cloth } else { hair };
                }
            } else if covered && d < 1.35 && v < 0.85 {
                col = cloth;
            }
            img.put_pixel(
                x as u32,
                y as u32,
                Rgb(col.map(|c| c.clamp(0.0, 255.0) as u8)),
            );
        }
    }
}

/// A random pen scribble inside `r` (mm), drawn as anti-aliased round stamps along Bezier curves.
#[inline(never)]
fn signature<R: Rng + ?Sized>(rng: &mut R, img: &mut RgbImage, s: f32, r: [f32; 4], ink: [u8; 3]) {
    let radius = rng.random_range(0.12..0.22) * s;
    let strokes = rng.random_range(1..=3);
    let mut p = [
        rng.random_range(r[0]..r[0] + 4.0) * s,
        rng.random_range(r[1] + 2.0..r[3] - 1.0) * s,
    ];
    for _ in 0..strokes {
        let segs = rng.random_range(2..5);
        for _ in 0..segs {
            let mut rnd = |lo: f32, hi: f32| rng.random_range(lo..hi) * s;
            let c1 = [p[0] + rnd(-2.0, 5.0), rnd(r[1], r[3])];
            let c2 = [p[0] + rnd(0.0, 7.0), rnd(r[1], r[3])];
            let e = [
                (p[0] + rnd(1.0, 6.0)).min(r[2] * s),
                rnd(r[1] + 1.0, r[3] - 1.0),
            ];
            let steps = 60;
            for i in 0..=steps {
                let t = i as f32 / steps as f32;
                let mt = 1.0 - t;
                let x = mt * mt * mt * p[0]
                    + 3.0 * mt * mt * t * c1[0]
                    + 3.0 * mt * t * t * c2[0]
                    + t * t * t * e[0];
                let y = mt * mt * mt * p[1]
                    + 3.0 * mt * mt * t * c1[1]
                    + 3.0 * mt * t * t * c2[1]
                    + t * t * t * e[1];
                stamp(img, x, y, radius, ink);
            }
            p = e;
        }
        p = [
            rng.random_range(r[0]..r[0] + 8.0) * s,
            rng.random_range(r[1] + 1.0..r[3] - 1.0) * s,
        ];
    }
}

fn stamp(img: &mut RgbImage, cx: f32, cy: f32, radius: f32, ink: [u8; 3]) {
    let r = radius + 1.0;
    let (x0, x1) = (
        (cx - r).floor().max(0.0) as u32,
        ((cx + r).ceil() as u32).min(img.width()),
    );
    let (y0, y1) = (
        (cy - r).floor().max(0.0) as u32,
        ((cy + r).ceil() as u32).min(img.height()),
    );
    for y in y0..y1 {
        for x in x0..x1 {
            let d = (x as f32 + 0.5 - cx).hypot(y as f32 + 0.5 - cy);
            let a = (radius + 0.5 - d).clamp(0.0, 1.0) * 0.9;
            if a > 0.0 {
                let p = img.get_pixel_mut(x, y);
                for (c, &k) in p.0.iter_mut().zip(&ink) {
                    let v = f32::from(*c);
                    *c = (v + (f32::from(k) - v) * a) as u8;
                }
            }
        }
    }
}
