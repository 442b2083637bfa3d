//! Finding the card in a photo: its four corners in image pixels, in reading order (top-left first).
//!
//! The photo is shrunk to at most [`WORK_SIDE`] pixels on its long side. Three masks are tried,
//! each thresholded with Otsu's method: brightness (a card on a dark desk), blueness `b - r` (the
//! card's blue-green print on white paper or a scanner bed) and distance to the colour at the middle
//! of the photo (where a kiosk user holds the card). Each mask is opened, the blob under the middle
//! (or the largest) is kept, and its outline is fitted with four straight sides (least squares over
//! the outline points near each side of its convex hull, so rounded corners do not pull the fit).
//! A candidate scores by how well the blob fills its quadrilateral, how close its side ratio is
//! to the card's 85.6 : 54, how much of the photo it covers and how much the colour changes
//! across its sides.
//!
//! Candidates are then refined on the photo itself (`refine_edges`): each side moves to the line
//! with the most consistent colour step across it along the middle 80 % of the side (a low
//! quantile over 16 pieces, so the border of the card's photo or of a glare spot, which runs
//! along only part of a side, does not count), and the corners are where neighbouring sides meet.
//! A side already on a sure edge is only polished within a working pixel; otherwise a wide search
//! on the shrunk image looks up to a fifth of the card outwards (a blob that stopped at the card's
//! photo or at a glare spot, or at a light card's edge on a light desk, leaves part of the card
//! out) before the polish. How clearly all four sides are edges then weighs in the score, so a
//! card-shaped blob of background loses to the card. The first candidate that scores well and has
//! clear edges ends the search; when none does, the blob of sharp colour changes (`edge_mask`: a
//! card of about the desk's colour still has an outline and print) is tried as well, and so are
//! quadrilaterals on the photo's strongest straight edges (`hough`: a shadow edge across the card
//! cuts every mask's blob in two, but the card's outline is still four straight lines). Upside-down
//! cards are handled after rectification (see `layout`).

mod hough;

use image::RgbImage;

use crate::geom::{Point, Quad, dist};

/// Long side of the shrunk working image.
pub const WORK_SIDE: u32 = 400;
/// The card's side ratio (ISO/IEC 7810 ID-1).
pub const CARD_RATIO: f32 = 85.6 / 54.0;
/// A candidate must score at least this to count as a card.
pub const MIN_SCORE: f32 = 0.35;

/// A card found in a photo.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundCard {
    /// Corners TL, TR, BR, BL in image pixels (continuous coordinates: pixel i spans [i, i+1)).
    pub corners: Quad,
    /// The candidate's score in `[0, 1]`.
    pub score: f32,
    /// Share of the photo's area the card covers.
    pub area_fraction: f32,
}

impl FoundCard {
    /// A card whose corners (TL, TR, BR, BL) are known rather than found: marked by the operator
    /// on the kiosk screen, or the ground truth of a rendered card when scoring the rest of the
    /// reader on its own.
    pub fn given(corners: Quad, image_w: u32, image_h: u32) -> FoundCard {
        let area = f64::from(image_w) * f64::from(image_h);
        FoundCard {
            corners,
            score: 1.0,
            area_fraction: (f64::from(polygon_area(&corners)) / area.max(1.0)) as f32,
        }
    }
}

struct Small {
    w: usize,
    h: usize,
    k: f32,
    rgb: Vec<[f32; 3]>,
}

fn shrink(img: &RgbImage) -> Small {
    let (w0, h0) = (img.width() as usize, img.height() as usize);
    let k = w0.max(h0).div_ceil(WORK_SIDE as usize).max(1);
    let (w, h) = ((w0 / k).max(1), (h0 / k).max(1));
    let mut rgb = vec![[0.0f32; 3]; w * h];
    let raw = img.as_raw();
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0u32; 3];
            let mut n = 0u32;
            for yy in y * k..((y + 1) * k).min(h0) {
                let row = yy * w0 * 3;
                for xx in x * k..((x + 1) * k).min(w0) {
                    let i = row + xx * 3;
                    acc[0] += u32::from(raw[i]);
                    acc[1] += u32::from(raw[i + 1]);
                    acc[2] += u32::from(raw[i + 2]);
                    n += 1;
                }
            }
            let n = n.max(1) as f32;
            rgb[y * w + x] = [acc[0] as f32 / n, acc[1] as f32 / n, acc[2] as f32 / n];
        }
    }
    Small {
        w,
        h,
        k: k as f32,
        rgb,
    }
}

/// Otsu's threshold of `values` over 256 bins spanning their range; `None` for a flat channel.
fn otsu(values: &[f32]) -> Option<f32> {
    let (lo, hi) = values
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    // Flat (or NaN) channels have no threshold.
    if hi - lo <= 1.0 || (hi - lo).is_nan() {
        return None;
    }
    let mut hist = [0u32; 256];
    let scale = 255.0 / (hi - lo);
    for &v in values {
        hist[((v - lo) * scale) as usize] += 1;
    }
    let total = values.len() as f64;
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * f64::from(c))
        .sum();
    let (mut w0, mut sum0, mut best, mut best_t) = (0.0f64, 0.0f64, -1.0f64, 0usize);
    for (t, &c) in hist.iter().enumerate() {
        w0 += f64::from(c);
        sum0 += t as f64 * f64::from(c);
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let (m0, m1) = (sum0 / w0, (sum_all - sum0) / w1);
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_t = t;
        }
    }
    Some(lo + (best_t as f32 + 0.5) / scale)
}

/// One pass of 3x3 erosion (`grow = false`) or dilation (`grow = true`), done as a row pass and a
/// column pass (the 3x3 square is separable).
fn morph(mask: &[bool], w: usize, h: usize, grow: bool) -> Vec<bool> {
    let pick = |a: bool, b: bool, c: bool| if grow { a | b | c } else { a & b & c };
    let mut rows = vec![false; w * h];
    for y in 0..h {
        let r = &mask[y * w..(y + 1) * w];
        let o = &mut rows[y * w..(y + 1) * w];
        for x in 0..w {
            o[x] = pick(r[x.saturating_sub(1)], r[x], r[(x + 1).min(w - 1)]);
        }
    }
    let mut out = vec![false; w * h];
    for y in 0..h {
        let (up, down) = (y.saturating_sub(1) * w, (y + 1).min(h - 1) * w);
        for x in 0..w {
            out[y * w + x] = pick(rows[up + x], rows[y * w + x], rows[down + x]);
        }
    }
    out
}

/// The 4-connected blob under the middle of the mask, or else the largest; its pixel count and
/// membership.
fn blob(mask: &[bool], w: usize, h: usize) -> Option<(usize, Vec<bool>)> {
    let mut label = vec![0u32; w * h];
    let mut sizes = vec![0usize];
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !mask[start] || label[start] != 0 {
            continue;
        }
        let id = sizes.len() as u32;
        let mut n = 0;
        label[start] = id;
        stack.push(start);
        while let Some(i) = stack.pop() {
            n += 1;
            let (x, y) = (i % w, i / w);
            let mut visit = |j: usize| {
                if mask[j] && label[j] == 0 {
                    label[j] = id;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        sizes.push(n);
    }
    if sizes.len() == 1 {
        return None;
    }
    let largest = (1..sizes.len()).max_by_key(|&i| sizes[i])?;
    let middle = label[(h / 2) * w + w / 2] as usize;
    // The blob under the middle wins unless it is a small island (text, a glare spot).
    let id = if middle != 0 && sizes[middle] * 4 >= sizes[largest] {
        middle
    } else {
        largest
    };
    Some((sizes[id], label.iter().map(|&l| l as usize == id).collect()))
}

/// Pixels the photo's border reaches without crossing a member.
fn outside(member: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut outside = vec![false; w * h];
    let mut stack: Vec<usize> = Vec::new();
    for x in 0..w {
        stack.push(x);
        stack.push((h - 1) * w + x);
    }
    for y in 0..h {
        stack.push(y * w);
        stack.push(y * w + w - 1);
    }
    while let Some(i) = stack.pop() {
        if member[i] || outside[i] {
            continue;
        }
        outside[i] = true;
        let (x, y) = (i % w, i / w);
        if x > 0 {
            stack.push(i - 1);
        }
        if x + 1 < w {
            stack.push(i + 1);
        }
        if y > 0 {
            stack.push(i - w);
        }
        if y + 1 < h {
            stack.push(i + w);
        }
    }
    outside
}

/// Pixels of the blob plus its holes: everything the outside cannot reach without crossing it.
fn solid_area(member: &[bool], w: usize, h: usize) -> usize {
    outside(member, w, h).iter().filter(|&&o| !o).count()
}

/// Gaps in an outline that [`edge_mask`] closes, in working pixels.
const EDGE_GAP: usize = 4;

/// Where the colour changes sharply (the top tenth of gradients on the lightly blurred working
/// image), with gaps of a few pixels closed and everything enclosed filled in: a card whose
/// colour is close to the desk's still has an outline and print.
fn edge_mask(s: &Small) -> Vec<bool> {
    let (w, h) = (s.w, s.h);
    let at = |v: &[[f32; 3]], x: usize, y: usize| v[y * w + x];
    // A 3x3 box blur, rows then columns.
    let mut rows = vec![[0.0f32; 3]; w * h];
    for y in 0..h {
        for x in 0..w {
            let (a, b, c) = (
                at(&s.rgb, x.saturating_sub(1), y),
                at(&s.rgb, x, y),
                at(&s.rgb, (x + 1).min(w - 1), y),
            );
            rows[y * w + x] = [0, 1, 2].map(|k| (a[k] + b[k] + c[k]) / 3.0);
        }
    }
    let mut blur = vec![[0.0f32; 3]; w * h];
    for y in 0..h {
        for x in 0..w {
            let (a, b, c) = (
                at(&rows, x, y.saturating_sub(1)),
                at(&rows, x, y),
                at(&rows, x, (y + 1).min(h - 1)),
            );
            blur[y * w + x] = [0, 1, 2].map(|k| (a[k] + b[k] + c[k]) / 3.0);
        }
    }
    // Gradient: the larger of the horizontal and vertical central differences, summed over the
    // channels (at most 765).
    let diff = |p: [f32; 3], q: [f32; 3]| (0..3).map(|k| (p[k] - q[k]).abs()).sum::<f32>();
    let mut grad = vec![0u16; w * h];
    let mut hist = [0u32; 766];
    for y in 0..h {
        for x in 0..w {
            let gx = diff(
                at(&blur, (x + 1).min(w - 1), y),
                at(&blur, x.saturating_sub(1), y),
            );
            let gy = diff(
                at(&blur, x, (y + 1).min(h - 1)),
                at(&blur, x, y.saturating_sub(1)),
            );
            let g = (gx.max(gy).round() as u16).min(765);
            grad[y * w + x] = g;
            hist[g as usize] += 1;
        }
    }
    let mut above = 0usize;
    let mut threshold = 765u16;
    for (g, &n) in hist.iter().enumerate().rev() {
        above += n as usize;
        if above * 10 > w * h {
            threshold = g as u16;
            break;
        }
    }
    let mut mask: Vec<bool> = grad.iter().map(|&g| g > threshold).collect();
    for _ in 0..EDGE_GAP {
        mask = morph(&mask, w, h, true);
    }
    for _ in 0..EDGE_GAP {
        mask = morph(&mask, w, h, false);
    }
    let mut filled: Vec<bool> = outside(&mask, w, h).iter().map(|&o| !o).collect();
    // The blur and the central differences spread an edge by two pixels each way, and the
    // candidate had better start inside the card than on the rim of its shadow (its sides are
    // searched outwards much further than inwards).
    for _ in 0..3 {
        filled = morph(&filled, w, h, false);
    }
    filled
}

fn cross(o: Point, a: Point, b: Point) -> f32 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Convex hull (Andrew's monotone chain), counter-clockwise in a y-up frame.
fn hull(mut pts: Vec<Point>) -> Vec<Point> {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let mut lower: Vec<Point> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<Point> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// Drops hull vertices, the one spanning the least area each time, down to four.
fn simplify_to_four(mut poly: Vec<Point>) -> Option<[Point; 4]> {
    while poly.len() > 4 {
        let n = poly.len();
        let i = (0..n).min_by(|&a, &b| {
            let area = |i: usize| cross(poly[(i + n - 1) % n], poly[i], poly[(i + 1) % n]).abs();
            area(a).total_cmp(&area(b))
        })?;
        poly.remove(i);
    }
    (poly.len() == 4).then(|| [poly[0], poly[1], poly[2], poly[3]])
}

fn polygon_area(q: &[Point; 4]) -> f32 {
    let mut a = 0.0;
    for i in 0..4 {
        let (p, r) = (q[i], q[(i + 1) % 4]);
        a += p[0] * r[1] - r[0] * p[1];
    }
    a.abs() / 2.0
}

/// A line `n . p = c` with unit normal `n`, fitted by total least squares.
fn fit_line(pts: &[Point]) -> Option<([f32; 2], f32)> {
    if pts.len() < 3 {
        return None;
    }
    let n = pts.len() as f32;
    let (mx, my) = pts
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p[0] / n, b + p[1] / n));
    let (mut sxx, mut sxy, mut syy) = (0.0f32, 0.0f32, 0.0f32);
    for p in pts {
        let (dx, dy) = (p[0] - mx, p[1] - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    // Direction of the largest spread; the normal is perpendicular to it.
    let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let normal = [-theta.sin(), theta.cos()];
    Some((normal, normal[0] * mx + normal[1] * my))
}

fn intersect(a: ([f32; 2], f32), b: ([f32; 2], f32)) -> Option<Point> {
    let det = a.0[0] * b.0[1] - a.0[1] * b.0[0];
    if det.abs() < 1e-6 {
        return None;
    }
    Some([
        (a.1 * b.0[1] - b.1 * a.0[1]) / det,
        (a.0[0] * b.1 - b.0[0] * a.1) / det,
    ])
}

/// Fits each side of `quad` to the outline points within `tol` of it (a tenth of the side when
/// `None`), away from the corners, and intersects neighbouring sides; keeps `quad` where a side
/// has too few points.
fn refine(quad: [Point; 4], outline: &[Point], tol: Option<f32>) -> [Point; 4] {
    let mut lines = Vec::new();
    for i in 0..4 {
        let (a, b) = (quad[i], quad[(i + 1) % 4]);
        let len = dist(a, b).max(1e-3);
        let tol = tol.unwrap_or(0.1 * len);
        let dir = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
        let near: Vec<Point> = outline
            .iter()
            .copied()
            .filter(|p| {
                let (dx, dy) = (p[0] - a[0], p[1] - a[1]);
                let along = dx * dir[0] + dy * dir[1];
                let across = (dx * dir[1] - dy * dir[0]).abs();
                across <= tol && along > 0.12 * len && along < 0.88 * len
            })
            .collect();
        match fit_line(&near) {
            Some(l) => lines.push(l),
            None => return quad,
        }
    }
    let mut out = quad;
    for (i, o) in out.iter_mut().enumerate() {
        match intersect(lines[(i + 3) % 4], lines[i]) {
            Some(p) if dist(p, quad[i]) < 0.2 * dist(quad[i], quad[(i + 1) % 4]) => *o = p,
            _ => return quad,
        }
    }
    out
}

/// Puts the corners in reading order: clockwise on screen, starting at the top-left of the
/// upright card (the upper of the two long sides is the top). The long sides are those of the
/// rectangle the quadrilateral shows ([`judged_ratio`], for a photo of `frame` working pixels): a
/// card turned far enough from the camera about its short axis has its long sides drawn shorter.
fn order(q: [Point; 4], frame: (usize, usize)) -> Quad {
    let c = q
        .iter()
        .fold([0.0, 0.0], |a, p| [a[0] + p[0] / 4.0, a[1] + p[1] / 4.0]);
    let mut v = q.to_vec();
    v.sort_by(|a, b| {
        let ta = (a[1] - c[1]).atan2(a[0] - c[0]);
        let tb = (b[1] - c[1]).atan2(b[0] - c[0]);
        ta.total_cmp(&tb)
    });
    // Sides i -> i+1; the long ones are 0 and 2 or 1 and 3.
    let quad = [v[0], v[1], v[2], v[3]];
    let long = if judged_ratio(&quad, (frame.0 as f32, frame.1 as f32)) >= 1.0 {
        [0, 2]
    } else {
        [1, 3]
    };
    let mid_y = |i: usize| (v[i][1] + v[(i + 1) % 4][1]) / 2.0;
    let top = if mid_y(long[0]) <= mid_y(long[1]) {
        long[0]
    } else {
        long[1]
    };
    [v[top], v[(top + 1) % 4], v[(top + 2) % 4], v[(top + 3) % 4]]
}

/// How much the colour changes across the quad's sides: the median, over points along the sides,
/// of the colour distance between a pixel two pixels outside and one two pixels inside. A real
/// card edge is a clear step; the outline of a blob that leaked into the background is not.
fn edge_contrast(q: &Quad, s: &Small) -> f32 {
    let c = q
        .iter()
        .fold([0.0, 0.0], |a, p| [a[0] + p[0] / 4.0, a[1] + p[1] / 4.0]);
    let px = |p: Point| -> Option<[f32; 3]> {
        let (x, y) = (p[0].floor(), p[1].floor());
        (x >= 0.0 && y >= 0.0 && (x as usize) < s.w && (y as usize) < s.h)
            .then(|| s.rgb[y as usize * s.w + x as usize])
    };
    let mut d = Vec::new();
    for i in 0..4 {
        let (a, b) = (q[i], q[(i + 1) % 4]);
        let len = dist(a, b).max(1e-3);
        // Outward normal: away from the centre.
        let mut n = [(b[1] - a[1]) / len, -(b[0] - a[0]) / len];
        let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        if (mid[0] - c[0]) * n[0] + (mid[1] - c[1]) * n[1] < 0.0 {
            n = [-n[0], -n[1]];
        }
        for k in 1..16 {
            let t = k as f32 / 16.0;
            let p = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
            let out = px([p[0] + 2.0 * n[0], p[1] + 2.0 * n[1]]);
            let inn = px([p[0] - 2.0 * n[0], p[1] - 2.0 * n[1]]);
            // A side along the photo's border has nothing outside: it counts as a clear edge.
            d.push(match (out, inn) {
                (Some(o), Some(i)) => {
                    ((o[0] - i[0]).powi(2) + (o[1] - i[1]).powi(2) + (o[2] - i[2]).powi(2)).sqrt()
                }
                _ => 24.0,
            });
        }
    }
    d.sort_by(f32::total_cmp);
    d.get(d.len() / 2).copied().unwrap_or(0.0)
}

/// Side ratio of a quadrilateral in reading order: mean long side over mean short side.
pub fn side_ratio(q: &Quad) -> f32 {
    let long = dist(q[0], q[1]) + dist(q[3], q[2]);
    let short = dist(q[1], q[2]) + dist(q[0], q[3]);
    long / short.max(1e-3)
}

/// The focal length the finder assumes, as a share of the photo's long side: a phone's main
/// camera or a webcam (about 26 mm in 35 mm terms; `synth::degrade::TILT_FOCAL` renders with it).
pub const FOCAL: f32 = 0.75;

/// What a camera shows of a quadrilateral taken for the picture of a rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    /// The rectangle's side ratio: side 0-1 over side 1-2.
    pub ratio: f32,
    /// How far the rectangle is turned from facing the camera (radians).
    pub tilt: f32,
}

/// The rectangle that a quadrilateral in reading order is the picture of, for a pinhole camera of
/// focal length `focal` whose axis meets the photo at `centre` (pixels). A card photographed at an
/// angle has its far side shortened, so its outline's own [`side_ratio`] can be far from the
/// card's; the rectangle's is not. This is the rectangle-in-perspective relation of Zhang and He
/// (whiteboard scanning, 2007): with the corners as rays, `k2` and `k3` scale the top-right and
/// bottom-left rays so that their differences to the top-left ray are the rectangle's sides in
/// camera space. `None` for a degenerate quadrilateral.
pub fn seen_rectangle(q: &Quad, focal: f32, centre: Point) -> Option<Seen> {
    let ray = |p: Point| [p[0] - centre[0], p[1] - centre[1], 1.0f32];
    let crossp = |a: [f32; 3], b: [f32; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let dot = |a: [f32; 3], b: [f32; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    // m1..m4: the rectangle's (0, 0), (w, 0), (0, h), (w, h).
    let (m1, m2, m3, m4) = (ray(q[0]), ray(q[1]), ray(q[3]), ray(q[2]));
    let d2 = dot(crossp(m2, m4), m3);
    let d3 = dot(crossp(m3, m4), m2);
    if d2.abs() < 1e-6 || d3.abs() < 1e-6 {
        return None;
    }
    let k2 = dot(crossp(m1, m4), m3) / d2;
    let k3 = dot(crossp(m1, m4), m2) / d3;
    if k2 <= 0.0 || k3 <= 0.0 {
        return None;
    }
    // The sides in camera space (pixels at the focal distance).
    let u = [k2 * m2[0] - m1[0], k2 * m2[1] - m1[1], focal * (k2 - 1.0)];
    let v = [k3 * m3[0] - m1[0], k3 * m3[1] - m1[1], focal * (k3 - 1.0)];
    let (a, b) = (dot(u, u), dot(v, v));
    let normal = crossp(u, v);
    let n = dot(normal, normal).sqrt();
    (a > 0.0 && b > 0.0 && n > 0.0).then(|| Seen {
        ratio: (a / b).sqrt(),
        tilt: (normal[2].abs() / n).min(1.0).acos(),
    })
}

/// From this tilt on, a quadrilateral is judged by the rectangle the camera shows
/// ([`judged_ratio`]); up to [`SEEN_TILT_FROM`] by its own side ratio. A little convergence of
/// a small outline's sides (the card's photo, off the middle of the frame) is as often its
/// corners' noise as a tilt, and read as a tilt it moved the ratio of seed 2's close-up 14's
/// photo box by 7 %, enough to rank it above the card.
const SEEN_TILT_FROM: f32 = 10.0 * std::f32::consts::PI / 180.0;
/// ... and wholly from this tilt on (between the two, the ratios are blended geometrically).
const SEEN_TILT_FULL: f32 = 20.0 * std::f32::consts::PI / 180.0;

/// The side ratio (side 0-1 over side 1-2) the finder judges a quadrilateral in reading order by,
/// in a photo of `frame` pixels: the rectangle's it shows through a camera of focal length
/// [`FOCAL`] when it shows one turned well away from the camera ([`SEEN_TILT_FROM`]) and lies
/// inside the photo, clear of its edges by a working pixel, else its own. (Any four corners are
/// the picture of some rectangle; an outline cut by the photo's edge, a close-up's, is not the
/// card's shape, and read as a rectangle turned from the camera one ranked above the card's on
/// seed 2's close-up 176.)
pub fn judged_ratio(q: &Quad, frame: (f32, f32)) -> f32 {
    let own = side_ratio(q);
    // (A blob or line reaching the photo's edge puts its corner on it.)
    let margin = 1.0;
    let inside = q.iter().all(|p| {
        p[0] >= margin && p[1] >= margin && p[0] <= frame.0 - margin && p[1] <= frame.1 - margin
    });
    if !inside {
        return own;
    }
    let focal = FOCAL * frame.0.max(frame.1);
    match seen_rectangle(q, focal, [frame.0 / 2.0, frame.1 / 2.0]) {
        Some(seen) => {
            let w =
                ((seen.tilt - SEEN_TILT_FROM) / (SEEN_TILT_FULL - SEEN_TILT_FROM)).clamp(0.0, 1.0);
            own.powf(1.0 - w) * seen.ratio.powf(w)
        }
        None => own,
    }
}

/// Of a quadrilateral's own side ratio and the one it is judged by ([`judged_ratio`]), the one
/// nearer the card's: what says whether an outline is card-shaped, so that a card photographed at
/// an angle stays so and one seen square on is judged as before.
fn card_like_ratio(q: &Quad, frame: (f32, f32)) -> f32 {
    let off = |r: f32| (r / CARD_RATIO).ln().abs();
    let (own, judged) = (side_ratio(q), judged_ratio(q, frame));
    if off(judged) < off(own) { judged } else { own }
}

/// A mask's candidate before refinement: its corners in working pixels (reading order) and its
/// score.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    quad: Quad,
    score: f32,
}

fn candidate(mask: &[bool], s: &Small) -> Option<Candidate> {
    let (w, h) = (s.w, s.h);
    let opened = morph(&morph(mask, w, h, false), w, h, true);
    let (count, member) = blob(&opened, w, h)?;
    if count < w * h / 400 {
        return None;
    }
    // Outline: the first and last member of every row and column (pixel edges, not centres).
    let mut outline = Vec::new();
    for y in 0..h {
        let row = &member[y * w..(y + 1) * w];
        if let (Some(a), Some(b)) = (row.iter().position(|&m| m), row.iter().rposition(|&m| m)) {
            outline.push([a as f32, y as f32 + 0.5]);
            outline.push([b as f32 + 1.0, y as f32 + 0.5]);
        }
    }
    for x in 0..w {
        let col = (0..h).map(|y| member[y * w + x]);
        let first = col.clone().position(|m| m);
        let last = (0..h).rev().find(|&y| member[y * w + x]);
        if let (Some(a), Some(b)) = (first, last) {
            outline.push([x as f32 + 0.5, a as f32]);
            outline.push([x as f32 + 0.5, b as f32 + 1.0]);
        }
    }
    // Hull corners sit where the rounded corners begin, so the first pass takes points up to a
    // tenth of the side away; later passes tighten around the fitted lines.
    let mut quad = simplify_to_four(hull(outline.clone()))?;
    for tol in [None, Some(3.0), Some(1.5)] {
        quad = refine(quad, &outline, tol);
    }
    let area = polygon_area(&quad);
    if area < 1.0 {
        return None;
    }
    // Holes in the blob (print, the photo) count as card: fill is the solid blob over the quad.
    let fill = (solid_area(&member, w, h).max(count) as f32 / area).min(1.0);
    let quad = order(quad, (w, h));
    Some(Candidate {
        quad,
        score: shape_score(&quad, fill, s),
    })
}

/// How card-like a quadrilateral (working pixels, reading order) is: how well its blob fills it,
/// its side ratio, how much of the photo it covers, whether it is the background and how clearly
/// the colour steps across its sides.
fn shape_score(q: &Quad, fill: f32, s: &Small) -> f32 {
    let (w, h) = (s.w, s.h);
    let area = polygon_area(q);
    let ratio = card_like_ratio(q, (w as f32, h as f32));
    let aspect = (-((ratio / CARD_RATIO).ln() / 0.22).powi(2)).exp();
    let area_fraction = area / (w * h) as f32;
    // Small cards are still found (and then refused as too small, not as "no card"); among
    // card-like blobs the larger wins.
    let coverage = (area_fraction / 0.03).min(1.0) * (0.8 + 0.2 * (area_fraction / 0.3).min(1.0));
    // Touching the border on two or more sides usually means the blob is the background.
    let touches = [
        q.iter().any(|p| p[0] < 1.0),
        q.iter().any(|p| p[1] < 1.0),
        q.iter().any(|p| p[0] > w as f32 - 1.0),
        q.iter().any(|p| p[1] > h as f32 - 1.0),
    ]
    .iter()
    .filter(|&&t| t)
    .count();
    let border = if touches >= 3 { 0.3 } else { 1.0 };
    // A quad reaching well outside the photo is a blob that leaked into the background.
    let margin = 0.02 * (w.max(h) as f32);
    let outside = q.iter().any(|p| {
        p[0] < -margin || p[1] < -margin || p[0] > w as f32 + margin || p[1] > h as f32 + margin
    });
    let border = if outside { border * 0.5 } else { border };
    let edges = (edge_contrast(q, s) / 24.0).clamp(0.0, 1.0);
    fill * fill * aspect * coverage * border * (0.4 + 0.6 * edges)
}

/// Nearest working pixel's colour at `p` (working pixels), clamped at the border.
fn pixel_small(s: &Small, p: Point) -> [f32; 3] {
    let x = (p[0].max(0.0) as usize).min(s.w - 1);
    let y = (p[1].max(0.0) as usize).min(s.h - 1);
    s.rgb[y * s.w + x]
}

/// Bilinear colour of the photo at `p` (image pixels), clamped at the border.
fn sample_full(img: &RgbImage, p: Point) -> [f32; 3] {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let fx = (p[0] - 0.5).clamp(0.0, (w - 1) as f32);
    let fy = (p[1] - 0.5).clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (fx as usize, fy as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
    let (r0, r1) = (y0 * w, y1 * w);
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let at = |i: usize| f32::from(raw[i * 3 + k]);
        let top = at(r0 + x0) + (at(r0 + x1) - at(r0 + x0)) * ax;
        let bottom = at(r1 + x0) + (at(r1 + x1) - at(r1 + x0)) * ax;
        *o = top + (bottom - top) * ay;
    }
    out
}

/// Pieces a side is cut into for the edge search.
const SEGMENTS: usize = 16;
/// A line's edge score is this quantile (from the bottom) of its pieces' steps: a card edge
/// steps all along the side, the border of the card's photo or of a glare spot only along part
/// of it.
const EDGE_QUANTILE: usize = SEGMENTS / 4;
/// How much a change of colour just inside a line counts against it while the edge is chosen:
/// inside a card edge is the card, inside the outer rim of the card's shadow is the shadow.
const FLAT_WEIGHT: f32 = 0.5;
/// Samples along a piece at most (long sides are sampled more sparsely).
const MAX_PER_PIECE: usize = 8;
/// An edge score (grey levels) from which a side counts as a clear card edge.
const EDGE_CLEAR: f32 = 6.0;
/// An edge score up to which a side counts as no edge at all.
const EDGE_NONE: f32 = 1.5;
/// A side whose fine search near the blob's outline finds an edge this strong stays there
/// without the wide search.
const EDGE_SURE: f32 = 2.0 * EDGE_CLEAR;
/// The wide search looks this far outside a side, as a share of the neighbouring sides' length.
const REACH: f32 = 0.2;
/// Wide searches per side, each from where the last one ended (a blob may cover little of the
/// card).
const ROUNDS: usize = 2;
/// A refined corner may move this share of the candidate's shortest side at most.
const MAX_MOVE: f32 = 0.5;

/// How one side's edge search looks: lines at whole offsets (in `step` pixels along the outward
/// normal) from `inward` steps inside to `outward` steps outside. A line's colour step is the
/// mean of a strip of `width` steps inside it minus one outside, `gap` steps from the line, less
/// `flat` times the change from the inner strip to the next one in; the middle 80 % of the side
/// is cut into [`SEGMENTS`] pieces sampled every `along` pixels.
#[derive(Debug, Clone, Copy)]
struct Search {
    flat: f32,
    inward: usize,
    outward: usize,
    step: f32,
    gap: usize,
    width: usize,
    along: f32,
}

/// What [`search_side`] found: the line's offsets (pixels along the outward normal) at the
/// side's two ends, its edge score and its mean colour step (inside minus outside).
#[derive(Debug, Clone, Copy)]
struct SideFit {
    d0: f32,
    d1: f32,
    score: f32,
    step: [f32; 3],
}

/// The [`EDGE_QUANTILE`]-th smallest of the pieces' values (NaN counts as the smallest).
fn low_quantile(v: &[f32; SEGMENTS]) -> f32 {
    // The EDGE_QUANTILE + 1 smallest so far, ascending.
    let mut low = [f32::INFINITY; EDGE_QUANTILE + 1];
    for &x in v {
        let x = if x.is_nan() { f32::MIN } else { x };
        if x < low[EDGE_QUANTILE] {
            let mut i = EDGE_QUANTILE;
            while i > 0 && low[i - 1] > x {
                low[i] = low[i - 1];
                i -= 1;
            }
            low[i] = x;
        }
    }
    low[EDGE_QUANTILE]
}

/// The line near the side `a -> b` (outward normal `n`) with the most consistent colour step
/// across it all along the side. Lines are given by their offsets at `a` and at `b`, so they may
/// turn. Each piece's step counts by its projection on `reference` (when `None`, on the mean step
/// of the line's pieces, so the card may be lighter or darker than what lies around it), less
/// `p.flat` times the change just inside; the edge score is the [`EDGE_QUANTILE`] of the pieces'
/// values, in grey levels. `None` for a degenerate side or one without any step.
fn search_side<F: Fn(Point) -> [f32; 3]>(
    sample: &F,
    a: Point,
    b: Point,
    n: [f32; 2],
    p: &Search,
    reference: Option<[f32; 3]>,
) -> Option<SideFit> {
    let len = dist(a, b);
    if len.is_nan() || len < 4.0 || p.width == 0 {
        return None;
    }
    let u = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
    // Profile index i is at offset (i - lead + 0.5) steps; the deepest strip is the card inside
    // the innermost line's inner strip.
    let lead = p.inward + p.gap + 2 * p.width;
    let m = lead + p.outward + p.gap + p.width;
    let per = ((0.8 * len / SEGMENTS as f32 / p.along).ceil() as usize).clamp(1, MAX_PER_PIECE);
    let dt = 0.8 / SEGMENTS as f32;
    // Running sums over the offsets of each piece's mean colour profile across the side.
    let mut prefix = vec![[0.0f32; 3]; SEGMENTS * (m + 1)];
    let mut centres = [0.0f32; SEGMENTS];
    for (j, centre) in centres.iter_mut().enumerate() {
        let t0 = 0.1 + dt * j as f32;
        *centre = t0 + dt / 2.0;
        let row = &mut prefix[j * (m + 1)..(j + 1) * (m + 1)];
        for oi in 0..m {
            let off = (oi as f32 - lead as f32 + 0.5) * p.step;
            let base = [a[0] + n[0] * off, a[1] + n[1] * off];
            let mut acc = [0.0f32; 3];
            for s in 0..per {
                let t = (t0 + dt * (s as f32 + 0.5) / per as f32) * len;
                let c = sample([base[0] + u[0] * t, base[1] + u[1] * t]);
                for k in 0..3 {
                    acc[k] += c[k];
                }
            }
            for k in 0..3 {
                row[oi + 1][k] = row[oi][k] + acc[k] / per as f32;
            }
        }
    }
    // Each piece's step for the line at each whole offset, and how much the strip inside that
    // line differs from the strip further in.
    let nd = p.inward + p.outward + 1;
    let mut steps = vec![[0.0f32; 3]; SEGMENTS * nd];
    let mut flats = vec![0.0f32; SEGMENTS * nd];
    let wf = p.width as f32;
    for j in 0..SEGMENTS {
        let row = &prefix[j * (m + 1)..(j + 1) * (m + 1)];
        for di in 0..nd {
            // The line at offset di - inward lies between profile indices at - 1 and at.
            let at = di + p.gap + 2 * p.width;
            let (i0, i1) = (at - p.gap - p.width, at - p.gap);
            let (o0, o1) = (at + p.gap, at + p.gap + p.width);
            let mut flat = 0.0f32;
            for k in 0..3 {
                let inner = row[i1][k] - row[i0][k];
                let deep = row[i0][k] - row[i0 - p.width][k];
                steps[j * nd + di][k] = (inner - (row[o1][k] - row[o0][k])) / wf;
                flat += ((inner - deep) / wf).powi(2);
            }
            flats[j * nd + di] = p.flat * flat.sqrt();
        }
    }
    let unit = reference.and_then(|r| {
        let rn = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
        (rn > 0.0).then(|| r.map(|v| v / rn))
    });
    let at = |j: usize, x: f32| -> (usize, usize, f32) {
        let lo = (x.max(0.0) as usize).min(nd - 1);
        (j * nd + lo, j * nd + (lo + 1).min(nd - 1), x - lo as f32)
    };
    // The edge score of the line at (fractional) offsets d0, d1, and its mean step.
    let line = |d0: f32, d1: f32| -> (f32, [f32; 3]) {
        let mut piece = [[0.0f32; 3]; SEGMENTS];
        let mut flat = [0.0f32; SEGMENTS];
        let mut sum = [0.0f32; 3];
        for j in 0..SEGMENTS {
            let (lo, hi, f) = at(j, d0 + (d1 - d0) * centres[j]);
            for k in 0..3 {
                piece[j][k] = steps[lo][k] + (steps[hi][k] - steps[lo][k]) * f;
                sum[k] += piece[j][k];
            }
            flat[j] = flats[lo] + (flats[hi] - flats[lo]) * f;
        }
        let mean = sum.map(|v| v / SEGMENTS as f32);
        let u = match unit {
            Some(u) => u,
            None => {
                let norm = (sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]).sqrt();
                if norm.is_nan() || norm <= 0.0 {
                    return (f32::MIN, mean);
                }
                sum.map(|v| v / norm)
            }
        };
        let mut proj = [0.0f32; SEGMENTS];
        for j in 0..SEGMENTS {
            proj[j] = piece[j][0] * u[0] + piece[j][1] * u[1] + piece[j][2] * u[2] - flat[j];
        }
        (low_quantile(&proj), mean)
    };
    // Every second offset first (the strips are two steps wide or more, so an edge between two
    // of them still shows), then the neighbours of the best.
    let mut best = (0usize, 0usize, f32::MIN);
    let consider = |d0: usize, d1: usize, best: &mut (usize, usize, f32)| {
        let q = line(d0 as f32, d1 as f32).0;
        if q > best.2 {
            *best = (d0, d1, q);
        }
    };
    for d0 in (0..nd).step_by(2) {
        for d1 in (0..nd).step_by(2) {
            consider(d0, d1, &mut best);
        }
    }
    let (c0, c1, _) = best;
    for d0 in c0.saturating_sub(1)..(c0 + 2).min(nd) {
        for d1 in c1.saturating_sub(1)..(c1 + 2).min(nd) {
            consider(d0, d1, &mut best);
        }
    }
    let (b0, b1, q) = best;
    if q == f32::MIN {
        return None;
    }
    // Between whole offsets: the vertex of the parabola through the best and its neighbours.
    let vertex = |minus: f32, plus: f32| {
        let curve = minus - 2.0 * q + plus;
        if curve < 0.0 {
            (0.5 * (minus - plus) / curve).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    };
    let (f0, f1) = (b0 as f32, b1 as f32);
    let e0 = if b0 > 0 && b0 + 1 < nd {
        vertex(line(f0 - 1.0, f1).0, line(f0 + 1.0, f1).0)
    } else {
        0.0
    };
    let e1 = if b1 > 0 && b1 + 1 < nd {
        vertex(line(f0, f1 - 1.0).0, line(f0, f1 + 1.0).0)
    } else {
        0.0
    };
    let (score, step) = line(f0, f1);
    let off = |d: f32| (d - p.inward as f32) * p.step;
    Some(SideFit {
        d0: off(f0 + e0),
        d1: off(f1 + e1),
        score,
        step,
    })
}

/// The line through `a` and `b` as `n . p = c` with unit normal `n`.
fn line_through(a: Point, b: Point) -> Option<([f32; 2], f32)> {
    let len = dist(a, b);
    if len.is_nan() || len <= 1e-3 {
        return None;
    }
    let n = [-(b[1] - a[1]) / len, (b[0] - a[0]) / len];
    Some((n, n[0] * a[0] + n[1] * a[1]))
}

/// A side placed by the edge search: its line, edge score, mean step and ends.
#[derive(Debug, Clone, Copy)]
struct Placed {
    line: ([f32; 2], f32),
    score: f32,
    step: [f32; 3],
    ends: (Point, Point),
}

impl Placed {
    fn new(ends: (Point, Point), f: &SideFit) -> Option<Placed> {
        Some(Placed {
            line: line_through(ends.0, ends.1)?,
            score: f.score,
            step: f.step,
            ends,
        })
    }
}

/// A candidate whose sides were moved onto the card's edges by [`refine_edges`].
#[derive(Debug, Clone, Copy)]
struct Refined {
    /// Corners in image pixels, reading order.
    corners: Quad,
    /// Each side's edge score (grey levels; 0 where no edge was found).
    sides: [f32; 4],
}

/// Moves each side of `q` (working pixels, reading order) onto the most consistent colour step
/// near it, at the photo's full resolution. A side the fine search finds on a sure edge within a
/// working pixel stays there; otherwise a wide search on the working image looks from a little
/// inside to well outside (a blob that stops at the card's photo or at a glare spot leaves part
/// of the card out; the print further inside is not searched) and the fine search polishes what
/// it found. A last search within two pixels places the line by the step alone. Corners are where
/// neighbouring sides meet. `None` when they do not make a convex quadrilateral near `q`.
fn refine_edges(q: &Quad, s: &Small, img: &RgbImage) -> Option<Refined> {
    let c = q
        .iter()
        .fold([0.0, 0.0], |a, p| [a[0] + p[0] / 4.0, a[1] + p[1] / 4.0]);
    let k = s.k;
    let (w, h) = (s.w as f32, s.h as f32);
    let full = |p: Point| sample_full(img, p);
    let small = |p: Point| pixel_small(s, [p[0] / k, p[1] / k]);
    let reach = (k + 1.0) as usize;
    let fine = Search {
        flat: FLAT_WEIGHT,
        inward: reach,
        outward: reach,
        step: 1.0,
        gap: 1,
        width: 2,
        along: 3.0,
    };
    let settle = Search {
        flat: 0.0,
        inward: 2,
        outward: 2,
        ..fine
    };
    let mut lines = [([0.0f32; 2], 0.0f32); 4];
    let mut sides = [0.0f32; 4];
    for i in 0..4 {
        let (a, b) = (q[i], q[(i + 1) % 4]);
        let len = dist(a, b);
        if len.is_nan() || len < 4.0 {
            return None;
        }
        let mut n = [(b[1] - a[1]) / len, -(b[0] - a[0]) / len];
        let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        if (mid[0] - c[0]) * n[0] + (mid[1] - c[1]) * n[1] < 0.0 {
            n = [-n[0], -n[1]];
        }
        // A side along the photo's border has nothing outside to step to: it stays, and counts
        // as a clear edge.
        let along_border = |f: &dyn Fn(Point) -> bool| f(a) && f(b);
        let on_border = along_border(&|p| p[0] < 1.5)
            || along_border(&|p| p[1] < 1.5)
            || along_border(&|p| p[0] > w - 1.5)
            || along_border(&|p| p[1] > h - 1.5);
        let (a, b) = ([a[0] * k, a[1] * k], [b[0] * k, b[1] * k]);
        lines[i] = line_through(a, b)?;
        let moved = |p: Point, d: f32| [p[0] + n[0] * d, p[1] + n[1] * d];
        if on_border {
            sides[i] = EDGE_CLEAR;
            continue;
        }
        // The fine search near a -> b; when its best line is at the end of its range, it goes
        // on from there once.
        let polish = |a: Point, b: Point, reference: Option<[f32; 3]>| {
            let mut best: Option<Placed> = None;
            let mut ends = (a, b);
            for _ in 0..2 {
                let Some(f) = search_side(&full, ends.0, ends.1, n, &fine, reference)
                    .filter(|f| f.score > 0.0 && best.is_none_or(|b| f.score > b.score))
                else {
                    break;
                };
                ends = (moved(ends.0, f.d0), moved(ends.1, f.d1));
                best = Some(Placed::new(ends, &f)?);
                if f.d0.abs().max(f.d1.abs()) < reach as f32 - 0.5 {
                    break;
                }
            }
            best
        };
        let mut best = polish(a, b, None);
        let across = (dist(q[(i + 3) % 4], q[i]) + dist(q[(i + 1) % 4], q[(i + 2) % 4])) / 2.0;
        let wide = Search {
            flat: FLAT_WEIGHT,
            inward: 2,
            outward: (REACH * across).clamp(3.0, 60.0) as usize,
            step: k,
            gap: 0,
            width: 2,
            along: k,
        };
        let mut from = (a, b);
        for _ in 0..ROUNDS {
            if best.is_some_and(|f| f.score >= EDGE_SURE) {
                break;
            }
            let Some(first) =
                search_side(&small, from.0, from.1, n, &wide, None).filter(|f| f.score > 0.0)
            else {
                break;
            };
            let ends = (moved(from.0, first.d0), moved(from.1, first.d1));
            // The fine search keeps the sense of the step the wide one found.
            let far =
                polish(ends.0, ends.1, Some(first.step)).or_else(|| Placed::new(ends, &first));
            match far.filter(|f| best.is_none_or(|b| f.score > b.score)) {
                Some(f) => {
                    from = f.ends;
                    best = Some(f);
                }
                None => break,
            }
        }
        if let Some(f) = best {
            // The change just inside, which picks the card's edge over its shadow's, also pulls
            // the line inwards when the edge is blurred: the last placement weighs the step
            // alone, in the sense found.
            lines[i] = search_side(&full, f.ends.0, f.ends.1, n, &settle, Some(f.step))
                .filter(|g| g.score > 0.0)
                .and_then(|g| line_through(moved(f.ends.0, g.d0), moved(f.ends.1, g.d1)))
                .unwrap_or(f.line);
            sides[i] = f.score;
        }
    }
    let shortest = (0..4)
        .map(|i| dist(q[i], q[(i + 1) % 4]))
        .fold(f32::MAX, f32::min)
        * k;
    let mut corners = [[0.0f32; 2]; 4];
    for i in 0..4 {
        let p = intersect(lines[(i + 3) % 4], lines[i])?;
        let moved = dist(p, [q[i][0] * k, q[i][1] * k]);
        if moved.is_nan() || moved >= MAX_MOVE * shortest {
            return None;
        }
        corners[i] = p;
    }
    // Still a convex quadrilateral turning the same way.
    let turn = |r: &Quad, i: usize| cross(r[i], r[(i + 1) % 4], r[(i + 2) % 4]);
    let sense = turn(q, 0).signum();
    if (0..4).any(|i| turn(&corners, i) * sense <= 0.0) {
        return None;
    }
    Some(Refined { corners, sides })
}

/// How clearly a refined candidate's sides are card edges, in `[0, 1]`: that of its least clear
/// side.
fn edge_support(r: &Refined) -> f32 {
    r.sides
        .iter()
        .map(|&v| ((v - EDGE_NONE) / (EDGE_CLEAR - EDGE_NONE)).clamp(0.0, 1.0))
        .fold(1.0, f32::min)
}

/// A candidate this good is taken without trying the remaining masks, if its edges are clear
/// enough.
pub const GOOD_ENOUGH: f32 = 0.9;
/// The [`edge_support`] an early candidate needs to end the search.
const SETTLES: f32 = 0.75;
/// What the candidate of the blob of sharp colour changes ([`edge_mask`]) scores, against one of
/// a mask.
const EDGES_DISCOUNT: f32 = 0.9;
/// Candidates (best mask scores first) whose edges are searched when none ended the search.
const REFINED: usize = 3;
/// How much the clearness of its edges weighs in a candidate's score.
const SUPPORT_WEIGHT: f32 = 0.5;

/// A way to split the shrunk photo into card and not card.
#[derive(Debug, Clone, Copy)]
enum Mask {
    /// Brighter than Otsu's threshold on luma.
    Luma,
    /// Bluer (blue minus red) than Otsu's threshold: the e-KTP's blue ground.
    Blue,
    /// Within this colour distance of the photo's middle.
    Centre(f32),
    /// Within this chromaticity distance (x 1000) of the photo's middle.
    Chroma(f32),
}

/// Makes masks of one shrunk photo, computing what several share (the middle's colour and the
/// distances to it) once, on first use.
struct Masks<'a> {
    s: &'a Small,
    centre: Option<[f32; 3]>,
    distance: Option<Vec<f32>>,
    chroma_distance: Option<Vec<f32>>,
}

impl<'a> Masks<'a> {
    fn new(s: &'a Small) -> Self {
        Masks {
            s,
            centre: None,
            distance: None,
            chroma_distance: None,
        }
    }

    /// The colour in the middle tenth of the photo (median per channel).
    fn centre(&mut self) -> [f32; 3] {
        let s = self.s;
        *self.centre.get_or_insert_with(|| {
            let mut mid = [Vec::new(), Vec::new(), Vec::new()];
            for y in s.h * 9 / 20..s.h * 11 / 20 {
                for x in s.w * 9 / 20..s.w * 11 / 20 {
                    for (k, m) in mid.iter_mut().enumerate() {
                        m.push(s.rgb[y * s.w + x][k]);
                    }
                }
            }
            mid.map(|mut m| {
                m.sort_by(f32::total_cmp);
                m.get(m.len() / 2).copied().unwrap_or(0.0)
            })
        })
    }

    /// The mask, or `None` when it cannot be made (Otsu on a flat photo).
    fn make(&mut self, kind: Mask) -> Option<Vec<bool>> {
        let s = self.s;
        match kind {
            Mask::Luma | Mask::Blue => {
                let values: Vec<f32> = if matches!(kind, Mask::Luma) {
                    s.rgb
                        .iter()
                        .map(|c| 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])
                        .collect()
                } else {
                    s.rgb.iter().map(|c| c[2] - c[0]).collect()
                };
                let t = otsu(&values)?;
                Some(values.iter().map(|&v| v > t).collect())
            }
            Mask::Centre(tol) => {
                let centre = self.centre();
                let distance = self.distance.get_or_insert_with(|| {
                    s.rgb
                        .iter()
                        .map(|c| {
                            ((c[0] - centre[0]).powi(2)
                                + (c[1] - centre[1]).powi(2)
                                + (c[2] - centre[2]).powi(2))
                            .sqrt()
                        })
                        .collect()
                });
                Some(distance.iter().map(|&d| d < tol).collect())
            }
            Mask::Chroma(tol) => {
                let centre = self.centre();
                let chroma = |c: &[f32; 3]| {
                    let sum = c[0] + c[1] + c[2] + 30.0;
                    [c[0] / sum, c[2] / sum]
                };
                let cc = chroma(&centre);
                let distance = self.chroma_distance.get_or_insert_with(|| {
                    s.rgb
                        .iter()
                        .map(|c| {
                            let q = chroma(c);
                            1000.0 * ((q[0] - cc[0]).powi(2) + (q[1] - cc[1]).powi(2)).sqrt()
                        })
                        .collect()
                });
                Some(distance.iter().map(|&d| d < tol).collect())
            }
        }
    }
}

/// Every mask's candidate with the mask's name (`luma`, `blue`, `centre-TOL`, and `edges` for
/// the blob of sharp colour changes), best first. Candidates are refined ([`refine_edges`]) and
/// scored by their shape and by how clearly their sides are card edges. Unless `exhaustive`, the
/// search stops at the first candidate scoring [`GOOD_ENOUGH`] with clear edges, and only the best
/// few are refined.
pub fn candidates(img: &RgbImage, exhaustive: bool) -> Vec<(&'static str, FoundCard)> {
    if img.width() < 8 || img.height() < 8 {
        return Vec::new();
    }
    let s = shrink(img);
    // The masks, in the order they are tried; each is made only when its turn comes (most photos
    // settle on the first or second).
    const MASKS: [(&str, Mask); 10] = [
        ("luma", Mask::Luma),
        ("blue", Mask::Blue),
        // Colour distance to the middle at several tolerances: Otsu on it often splits the print
        // from everything else, so the tolerance that gives the most card-like blob wins.
        ("centre-20", Mask::Centre(20.0)),
        ("centre-32", Mask::Centre(32.0)),
        ("centre-45", Mask::Centre(45.0)),
        ("centre-60", Mask::Centre(60.0)),
        ("centre-80", Mask::Centre(80.0)),
        // The same in chromaticity (each channel's share of the sum), which a shadow across the
        // card or uneven light does not change: the card stays one blob where a shadow edge cuts
        // the masks above in two. (Tried last, and only when no other mask found a card-shaped
        // blob: on a grey desk chromaticity says little.)
        ("chroma-6", Mask::Chroma(6.0)),
        ("chroma-10", Mask::Chroma(10.0)),
        ("chroma-16", Mask::Chroma(16.0)),
    ];
    let mut masks = Masks::new(&s);
    // Each mask's candidate, with its refinement when it was tried.
    let mut found: Vec<(&'static str, Candidate, Option<Option<Refined>>)> = Vec::new();
    let mut settled = false;
    for (name, kind) in MASKS {
        // The chromaticity masks are for photos where no other mask found a card-shaped blob.
        if matches!(kind, Mask::Chroma(_))
            && !exhaustive
            && found.iter().any(|f| f.1.score >= GOOD_ENOUGH)
        {
            continue;
        }
        let Some(mask) = masks.make(kind) else {
            continue;
        };
        let Some(c) = candidate(&mask, &s) else {
            continue;
        };
        // A near-perfect candidate whose sides are clear edges ends the search (most photos):
        // the rest would only cost time. A card-shaped blob of background does not.
        if !exhaustive && c.score >= GOOD_ENOUGH {
            let r = refine_edges(&c.quad, &s, img);
            settled = r.is_some_and(|r| edge_support(&r) >= SETTLES);
            found.push((name, c, Some(r)));
            if settled {
                break;
            }
        } else {
            found.push((name, c, None));
        }
    }
    found.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    let k = s.k;
    let area = (s.w * s.h) as f32;
    // Edges found all round vouch for the corners whatever the blob looked like (a blob that left
    // out the card's photo fills its refined quadrilateral badly). Unclear edges only rank a
    // candidate lower: one whose blob looked like a card still counts as one (the reader tries
    // the others when its layout fails).
    let finish = |c: &Candidate, r: Option<Refined>| {
        let floor = c.score.min(MIN_SCORE);
        match r {
            Some(r) => {
                let rq = r.corners.map(|p| [p[0] / k, p[1] / k]);
                let shape = c.score.max(shape_score(&rq, 1.0, &s));
                FoundCard {
                    corners: r.corners,
                    score: (shape * (1.0 - SUPPORT_WEIGHT * (1.0 - edge_support(&r)))).max(floor),
                    area_fraction: polygon_area(&rq) / area,
                }
            }
            None => FoundCard {
                corners: c.quad.map(|p| [p[0] * k, p[1] * k]),
                score: (c.score * (1.0 - SUPPORT_WEIGHT)).max(floor),
                area_fraction: polygon_area(&c.quad) / area,
            },
        }
    };
    let mut out: Vec<(&'static str, FoundCard)> = found
        .into_iter()
        .enumerate()
        .map(|(rank, (name, c, r))| {
            let r = match r {
                Some(r) => r,
                None if exhaustive || (!settled && rank < REFINED) => {
                    refine_edges(&c.quad, &s, img)
                }
                None => None,
            };
            (name, finish(&c, r))
        })
        .collect();
    // When no mask's blob settled it, two more kinds of candidate, refined like the masks' and
    // ranked a little below them (the masks' outlines are more often the card's own):
    // - the card's outline as four straight lines (a shadow edge across the card, a light card on
    //   a light desk);
    // - the blob of sharp colour changes (a card of about the desk's colour, or glare across
    //   it). The print leaves holes in it that spoil its shape, so its sides are always refined.
    if exhaustive || !settled {
        let edges = candidate(&edge_mask(&s), &s);
        let more = hough::quads(&s)
            .into_iter()
            .map(|c| ("lines", c))
            .chain(edges.map(|c| ("edges", c)));
        for (name, c) in more {
            let card = finish(&c, refine_edges(&c.quad, &s, img));
            out.push((
                name,
                FoundCard {
                    score: card.score * EDGES_DISCOUNT,
                    ..card
                },
            ));
        }
    }
    out.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    out
}

/// Where the card would be if the photo were a close-up cut inside it (no corner in the frame,
/// so nothing for the finder): the card square to the frame, its long side along the frame's
/// long side and from filling it to overfilling it by a tenth; where the card is then narrower
/// than the frame's short side, centred or against either long edge. A portrait frame is tried
/// with the card turned both ways, and all are turned by `skew` (radians, y down: the angle of the
/// print's lines from the frame's long side, [`crate::layout::Print::skew`]). The layout check
/// decides which, if any, is the card.
pub fn close_up_guesses(image_w: u32, image_h: u32, skew: f32) -> Vec<Quad> {
    let (w, h) = (image_w as f32, image_h as f32);
    let (long, short) = (w.max(h), w.min(h));
    let mut out = Vec::new();
    for grow in CLOSE_UP_GROWTH {
        let card_long = long * grow;
        let card_short = card_long / CARD_RATIO;
        let spare = ((short - card_short) / 2.0).max(0.0);
        let shifts: &[f32] = if spare > 0.02 * short {
            &[0.0, -1.0, 1.0]
        } else {
            &[0.0]
        };
        for &shift in shifts {
            // Corners of the card in (along the long side, along the short side), centred.
            let (a0, a1) = ((long - card_long) / 2.0, (long + card_long) / 2.0);
            let b0 = (short - card_short) / 2.0 + shift * spare;
            let b1 = b0 + card_short;
            if w >= h {
                out.push([[a0, b0], [a1, b0], [a1, b1], [a0, b1]]);
            } else {
                // Card turned a quarter either way: its top edge along the frame's left or right.
                out.push([[b0, a1], [b0, a0], [b1, a0], [b1, a1]]);
                out.push([[b1, a0], [b1, a1], [b0, a1], [b0, a0]]);
            }
        }
    }
    // Lines running at dx/dy = tan(skew) down a portrait frame are the frame turned by -skew.
    let turn = if w >= h { skew } else { -skew };
    let (sin, cos) = turn.sin_cos();
    let (cx, cy) = (w / 2.0, h / 2.0);
    for q in &mut out {
        for p in q.iter_mut() {
            let (dx, dy) = (p[0] - cx, p[1] - cy);
            *p = [cx + dx * cos - dy * sin, cy + dx * sin + dy * cos];
        }
    }
    out
}

/// Whether a card outline runs along two opposite sides of the photo (within half a percent of
/// the photo's side), as a close-up's wrong outline does: the frame's edge taken for the card's.
pub fn clipped(q: &Quad, image_w: u32, image_h: u32) -> bool {
    let (w, h) = (image_w as f32, image_h as f32);
    let tol = 0.005 * w.max(h);
    let touches = |f: &dyn Fn(&Point) -> bool| q.iter().filter(|p| f(p)).count() >= 2;
    (touches(&|p| p[1] <= tol) && touches(&|p| p[1] >= h - 1.0 - tol))
        || (touches(&|p| p[0] <= tol) && touches(&|p| p[0] >= w - 1.0 - tol))
}

/// Sizes tried for a close-up, as the card's long side over the frame's.
const CLOSE_UP_GROWTH: [f32; 3] = [1.0, 1.05, 1.1];

/// Finds the card; `None` when no candidate looks like a card.
pub fn find_card(img: &RgbImage) -> Option<FoundCard> {
    candidates(img, false)
        .into_iter()
        .map(|(_, c)| c)
        .next()
        .filter(|b| b.score >= MIN_SCORE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn an_outline_across_the_photo_is_clipped_one_inside_it_is_not() {
        let (w, h) = (1024, 768);
        // From the top edge to the bottom edge (a close-up's frame taken for the card).
        assert!(clipped(
            &[[60.0, 0.0], [990.0, 0.0], [995.0, 767.0], [47.0, 767.0]],
            w,
            h
        ));
        // From the left edge to the right edge.
        assert!(clipped(
            &[[0.0, 90.0], [1023.0, 80.0], [1023.0, 700.0], [0.0, 690.0]],
            w,
            h
        ));
        // Touching one edge only (a scan flush with its left side), or none.
        assert!(!clipped(
            &[[1.0, 43.0], [901.0, 43.0], [901.0, 611.0], [1.0, 611.0]],
            w,
            h
        ));
        assert!(!clipped(
            &[
                [100.0, 100.0],
                [900.0, 120.0],
                [890.0, 600.0],
                [90.0, 590.0]
            ],
            w,
            h
        ));
    }

    #[test]
    fn close_up_guesses_overfill_the_frame_and_turn_with_the_print() {
        // A frame of the card's own shape: one guess per size, centred, the first filling it.
        let g = close_up_guesses(1024, 646, 0.0);
        assert_eq!(g.len(), CLOSE_UP_GROWTH.len());
        for (q, grow) in g.iter().zip(CLOSE_UP_GROWTH) {
            let width = q[1][0] - q[0][0];
            assert!((width - 1024.0 * grow).abs() < 0.5, "{q:?}");
            assert!(((q[0][0] + q[1][0]) / 2.0 - 512.0).abs() < 0.5, "{q:?}");
            assert!((side_ratio(q) - CARD_RATIO).abs() < 0.01, "{q:?}");
        }
        // A 4:3 frame: the card is less tall than the frame, so it is also tried against either
        // long edge.
        let g = close_up_guesses(1024, 768, 0.0);
        assert!(g.iter().any(|q| q[0][1].abs() < 0.5));
        assert!(g.iter().any(|q| (q[2][1] - 768.0).abs() < 0.5));
        // A portrait frame: turned both ways (the top edge on the left, or on the right).
        let g = close_up_guesses(646, 1024, 0.0);
        assert_eq!(g.len(), 2 * CLOSE_UP_GROWTH.len());
        assert!(g.iter().any(|q| q[0][0] < 0.0 && q[0][1] > 1024.0));
        assert!(g.iter().any(|q| q[0][0] > 646.0 && q[0][1] < 0.0));
        // Turned by the print's skew: the top edge runs at that angle.
        let skew = 3f32.to_radians();
        let q = close_up_guesses(1024, 646, skew)[0];
        let angle = (q[1][1] - q[0][1]).atan2(q[1][0] - q[0][0]);
        assert!((angle - skew).abs() < 1e-4, "{angle}");
    }

    fn draw_quad(img: &mut RgbImage, q: &Quad, colour: [u8; 3]) {
        for y in 0..img.height() {
            for x in 0..img.width() {
                let p = [x as f32 + 0.5, y as f32 + 0.5];
                let inside = (0..4).all(|i| cross(q[i], q[(i + 1) % 4], p) >= 0.0);
                if inside {
                    img.put_pixel(x, y, Rgb(colour));
                }
            }
        }
    }

    #[test]
    fn finds_a_tilted_light_card_on_a_dark_desk() {
        let mut img = RgbImage::from_pixel(800, 600, Rgb([60, 45, 35]));
        let q = [
            [150.0, 120.0],
            [640.0, 160.0],
            [620.0, 470.0],
            [130.0, 430.0],
        ];
        draw_quad(&mut img, &q, [200, 225, 230]);
        let found = find_card(&img).expect("card");
        for i in 0..4 {
            assert!(
                dist(found.corners[i], q[i]) < 6.0,
                "{:?} vs {q:?}",
                found.corners
            );
        }
        assert!(found.score > 0.7);
    }

    /// Cards as `Tier::Tilted` photographs them: turned 25-45 degrees from a phone's camera.
    #[cfg(feature = "synth")]
    fn tilted_cards(seed: u64, n: usize) -> Vec<crate::synth::degrade::Placement> {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let p = crate::synth::degrade::Tier::Tilted.params();
        (0..n)
            .map(|_| crate::synth::degrade::place(&mut rng, &p, (85.6, 54.0)))
            .collect()
    }

    #[test]
    #[cfg(feature = "synth")]
    fn a_card_photographed_at_an_angle_is_a_card_shaped_rectangle_through_the_camera() {
        let (mut near, mut far, mut on_edge) = (0, 0, 0);
        for pl in tilted_cards(3, 300) {
            let (w, h) = (pl.frame.0 as f32, pl.frame.1 as f32);
            let q = pl.corners;
            let seen = seen_rectangle(&q, FOCAL * w.max(h), [w / 2.0, h / 2.0]).expect("seen");
            // Turned 25-45 degrees; what moves the ratio off the card's is the corners' own jitter
            // (up to 0.6 % of the card's width each), which weighs more the more the card is
            // foreshortened.
            let tilt = seen.tilt.to_degrees();
            assert!((18.0..52.0).contains(&tilt), "tilt {tilt} for {q:?}");
            assert!(
                (seen.ratio / CARD_RATIO - 1.0).abs() < 0.15,
                "{seen:?} for {q:?}"
            );
            if (seen.ratio / CARD_RATIO - 1.0).abs() < 0.05 {
                near += 1;
            }
            // Judged by the rectangle, as the finder judges it, unless on the photo's edge.
            let clear = |p: &Point| p[0] > 1.0 && p[1] > 1.0 && p[0] < w - 1.0 && p[1] < h - 1.0;
            if q.iter().all(clear) && seen.tilt >= SEEN_TILT_FULL {
                assert_eq!(judged_ratio(&q, (w, h)), seen.ratio);
            } else {
                on_edge += 1;
            }
            if (side_ratio(&q) / CARD_RATIO - 1.0).abs() > 0.15 {
                far += 1;
            }
        }
        // (287 of these 300; all of them without the jitter.)
        assert!(near >= 270, "{near}");
        // The outline's own ratio is more than 15 % off the card's on a third of them or more.
        assert!(far > 100, "{far}");
        assert!(on_edge < 30, "{on_edge}");
        // Seen square on, the rectangle is the outline, and it is judged by its own ratio.
        let flat = [
            [100.0, 100.0],
            [500.0, 110.0],
            [495.0, 360.0],
            [98.0, 352.0],
        ];
        let seen = seen_rectangle(&flat, 300.0, [300.0, 200.0]).unwrap();
        assert!(
            (seen.ratio / side_ratio(&flat) - 1.0).abs() < 0.03,
            "{seen:?}"
        );
        assert!(seen.tilt.to_degrees() < 10.0, "{seen:?}");
        assert_eq!(judged_ratio(&flat, (600.0, 400.0)), side_ratio(&flat));
        // An outline reaching the photo's edge (a close-up's) is judged by its own ratio too,
        // however turned a rectangle it could be the picture of: seed 2's close-up 176.
        let cut = [[0.0, 5.0], [172.0, 15.0], [341.0, 248.0], [-0.3, 235.0]];
        let seen = seen_rectangle(&cut, 0.75 * 341.0, [170.5, 128.0]).unwrap();
        assert!(seen.tilt.to_degrees() > 30.0, "{seen:?}");
        assert_eq!(judged_ratio(&cut, (341.0, 256.0)), side_ratio(&cut));
    }

    #[test]
    #[cfg(feature = "synth")]
    fn a_card_turned_far_from_the_camera_is_found_and_ordered() {
        // Those whose outline is least like the card's: long sides drawn short, or short sides.
        let mut cards = tilted_cards(11, 400);
        cards.sort_by(|a, b| {
            let off = |p: &crate::synth::degrade::Placement| {
                (side_ratio(&p.corners) / CARD_RATIO).ln().abs()
            };
            off(b).total_cmp(&off(a))
        });
        for pl in cards.iter().take(6) {
            let (w, h) = pl.frame;
            let mut img = RgbImage::from_pixel(w, h, Rgb([60, 45, 35]));
            draw_quad(&mut img, &pl.corners, [200, 225, 230]);
            let found = find_card(&img).expect("card");
            for i in 0..4 {
                assert!(
                    dist(found.corners[i], pl.corners[i]) < 6.0,
                    "side ratio {}: {:?} vs {:?}",
                    side_ratio(&pl.corners),
                    found.corners,
                    pl.corners
                );
            }
            assert!(found.score > 0.7, "{}", found.score);
        }
    }

    #[test]
    fn finds_a_bluish_card_on_white_paper_and_orders_a_rotated_one() {
        let mut img = RgbImage::from_pixel(900, 700, Rgb([245, 244, 240]));
        // Listed from the bottom-left, as a card turned a little counter-clockwise.
        let q = [
            [200.0, 560.0],
            [150.0, 180.0],
            [740.0, 110.0],
            [790.0, 500.0],
        ];
        draw_quad(&mut img, &[q[1], q[2], q[3], q[0]], [190, 220, 235]);
        let found = find_card(&img).expect("card");
        let want = [q[1], q[2], q[3], q[0]];
        for (got, want) in found.corners.iter().zip(want) {
            assert!(dist(*got, want) < 8.0, "{:?}", found.corners);
        }
    }

    #[test]
    fn a_flat_or_tiny_image_has_no_card() {
        assert!(find_card(&RgbImage::from_pixel(300, 200, Rgb([128, 128, 128]))).is_none());
        assert!(find_card(&RgbImage::new(4, 4)).is_none());
        // A thin stripe is not card-shaped.
        let mut img = RgbImage::from_pixel(800, 600, Rgb([20, 20, 20]));
        draw_quad(
            &mut img,
            &[
                [100.0, 280.0],
                [700.0, 280.0],
                [700.0, 320.0],
                [100.0, 320.0],
            ],
            [230, 230, 230],
        );
        assert!(find_card(&img).is_none());
    }

    /// Adds deterministic noise of up to `amp` grey levels to every channel.
    fn add_noise(img: &mut RgbImage, amp: i32, seed: u64) {
        let mut x = seed | 1;
        for v in img.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = (x % (2 * amp as u64 + 1)) as i32 - amp;
            *v = (i32::from(*v) + d).clamp(0, 255) as u8;
        }
    }

    fn worst(found: &Quad, want: &Quad) -> f32 {
        (0..4).map(|i| dist(found[i], want[i])).fold(0.0, f32::max)
    }

    #[test]
    fn finds_a_light_card_on_a_light_desk_to_a_pixel() {
        // A pale card on a desk of almost its brightness, seen in perspective, with sensor noise
        // stronger than the step at its edge is in any one pixel.
        let mut img = RgbImage::from_pixel(1000, 750, Rgb([176, 174, 166]));
        let q = [
            [212.3, 141.8],
            [801.6, 189.2],
            [770.4, 566.9],
            [171.1, 520.5],
        ];
        draw_quad(&mut img, &q, [188, 196, 204]);
        add_noise(&mut img, 12, 7);
        let found = find_card(&img).expect("card");
        assert!(worst(&found.corners, &q) < 1.5, "{:?}", found.corners);
        assert!(found.score > 0.7, "{}", found.score);
    }

    #[test]
    fn a_shadow_across_the_card_does_not_cut_it_in_two() {
        // A pale bluish card on a beige desk, a hand's shadow across both: the dark part of the card
        // is about the desk's brightness, its colour is still the card's.
        let mut img = RgbImage::from_pixel(1000, 750, Rgb([200, 186, 160]));
        let q = [
            [180.0, 160.0],
            [800.0, 190.0],
            [780.0, 580.0],
            [160.0, 550.0],
        ];
        draw_quad(&mut img, &q, [214, 222, 234]);
        for (x, y, p) in img.enumerate_pixels_mut() {
            // Half-plane through (520, 360), soft over 30 px.
            let d = (x as f32 - 520.0) * 0.8 + (y as f32 - 360.0) * 0.6;
            let t = (0.5 + d / 30.0).clamp(0.0, 1.0);
            let gain = 1.0 - 0.45 * t;
            for v in p.0.iter_mut() {
                *v = (f32::from(*v) * gain) as u8;
            }
        }
        add_noise(&mut img, 6, 11);
        let found = find_card(&img).expect("card");
        assert!(worst(&found.corners, &q) < 3.0, "{:?}", found.corners);
    }

    #[test]
    fn a_side_that_stopped_at_the_cards_photo_moves_out_to_the_edge() {
        // The blob left out the strip of card right of its photo (dark red): the candidate's
        // right side runs along the photo's right border.
        let mut img = RgbImage::from_pixel(900, 600, Rgb([120, 110, 100]));
        let q = [
            [150.0, 100.0],
            [750.0, 100.0],
            [750.0, 480.0],
            [150.0, 480.0],
        ];
        draw_quad(&mut img, &q, [205, 215, 225]);
        let photo = [
            [600.0, 160.0],
            [715.0, 160.0],
            [715.0, 310.0],
            [600.0, 310.0],
        ];
        draw_quad(&mut img, &photo, [150, 40, 40]);
        add_noise(&mut img, 6, 3);
        let s = shrink(&img);
        let partial = [
            [150.0, 100.0],
            [715.0, 100.0],
            [715.0, 480.0],
            [150.0, 480.0],
        ];
        let r =
            refine_edges(&partial.map(|p| [p[0] / s.k, p[1] / s.k]), &s, &img).expect("refined");
        assert!(worst(&r.corners, &q) < 1.5, "{:?}", r.corners);
        assert!(edge_support(&r) > 0.99, "{:?}", r.sides);
    }

    #[test]
    fn sides_near_the_edge_are_polished_onto_it_not_onto_the_shadow() {
        // A soft dark shadow around the card: its outer rim is a step too, of the other sense.
        let mut img = RgbImage::from_pixel(800, 600, Rgb([200, 195, 185]));
        let q = [
            [160.0, 130.0],
            [640.0, 130.0],
            [640.0, 433.0],
            [160.0, 433.0],
        ];
        for (grow, shade) in [(9.0, 180u8), (6.0, 165), (3.0, 150)] {
            let s = [
                [q[0][0] - grow, q[0][1] - grow],
                [q[1][0] + grow, q[1][1] - grow],
                [q[2][0] + grow, q[2][1] + grow],
                [q[3][0] - grow, q[3][1] + grow],
            ];
            draw_quad(&mut img, &s, [shade, shade - 3, shade - 8]);
        }
        draw_quad(&mut img, &q, [215, 225, 235]);
        add_noise(&mut img, 5, 11);
        let s = shrink(&img);
        // A candidate a working pixel or so off on every side.
        let near = [
            [163.0, 127.0],
            [645.0, 134.0],
            [637.0, 437.0],
            [157.0, 430.0],
        ];
        let r = refine_edges(&near.map(|p| [p[0] / s.k, p[1] / s.k]), &s, &img).expect("refined");
        assert!(worst(&r.corners, &q) < 1.0, "{:?}", r.corners);
    }

    #[test]
    fn a_flat_photo_has_no_edges_and_odd_quads_do_not_panic() {
        let img = RgbImage::from_pixel(400, 300, Rgb([90, 90, 90]));
        let s = shrink(&img);
        let q = [[30.0, 30.0], [100.0, 30.0], [100.0, 80.0], [30.0, 80.0]];
        // Nothing steps anywhere: the sides stay where they were and vouch for nothing.
        if let Some(r) = refine_edges(&q, &s, &img) {
            assert_eq!(edge_support(&r), 0.0, "{:?}", r.sides);
        }
        let odd = [
            [[0.0, 0.0]; 4],
            [[f32::NAN, 1.0], [5.0, 1.0], [5.0, 9.0], [1.0, 9.0]],
            [[-1e9, -1e9], [1e9, -1e9], [1e9, 1e9], [-1e9, 1e9]],
            [[10.0, 10.0], [12.0, 10.0], [12.0, 11.0], [10.0, 11.0]],
            [[0.0, 0.0], [399.0, 0.0], [399.0, 299.0], [0.0, 299.0]],
        ];
        for q in odd {
            let _ = refine_edges(&q, &s, &img);
        }
    }

    #[test]
    fn a_card_of_the_desks_colour_is_found_by_its_outline_and_print() {
        // The card is the desk's grey: only the thin shadow along its edge and its print show
        // it. Every mask's blob is the desk (or the print alone); the blob of sharp colour
        // changes is the card.
        let mut img = RgbImage::from_pixel(900, 600, Rgb([150, 150, 150]));
        let q = [
            [180.0, 120.0],
            [700.0, 150.0],
            [682.0, 478.0],
            [162.0, 448.0],
        ];
        let rim = [
            [178.0, 118.0],
            [702.0, 148.0],
            [684.0, 480.0],
            [160.0, 450.0],
        ];
        draw_quad(&mut img, &rim, [120, 120, 120]);
        draw_quad(&mut img, &q, [151, 151, 151]);
        // Lines of print and the photo, in the card's frame (u along the top, v down).
        let at = |u: f32, v: f32| {
            let top = [
                q[0][0] + (q[1][0] - q[0][0]) * u,
                q[0][1] + (q[1][1] - q[0][1]) * u,
            ];
            let bottom = [
                q[3][0] + (q[2][0] - q[3][0]) * u,
                q[3][1] + (q[2][1] - q[3][1]) * u,
            ];
            [
                top[0] + (bottom[0] - top[0]) * v,
                top[1] + (bottom[1] - top[1]) * v,
            ]
        };
        let mut boxes = Vec::new();
        for i in 0..9 {
            let v = 0.12 + 0.085 * i as f32;
            boxes.push((0.06, v, 0.2 + 0.05 * (i % 3) as f32, v + 0.015));
            boxes.push((0.3, v, 0.5 + 0.06 * (i % 4) as f32, v + 0.015));
        }
        for (u0, v0, u1, v1) in boxes {
            draw_quad(
                &mut img,
                &[at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)],
                [60, 60, 70],
            );
        }
        add_noise(&mut img, 6, 5);
        let found = find_card(&img).expect("card");
        assert!(worst(&found.corners, &q) < 2.0, "{:?}", found.corners);
        let best = candidates(&img, true);
        assert_eq!(
            best.first().map(|(name, _)| *name),
            Some("edges"),
            "{best:?}"
        );
    }

    #[test]
    fn the_low_quantile_is_the_fifth_smallest_and_nan_counts_low() {
        let mut v = [0.0f32; SEGMENTS];
        for (i, x) in v.iter_mut().enumerate() {
            *x = ((i * 7) % SEGMENTS) as f32;
        }
        assert_eq!(low_quantile(&v), EDGE_QUANTILE as f32);
        v[3] = f32::NAN;
        let mut sorted: Vec<f32> = v
            .iter()
            .map(|&x| if x.is_nan() { f32::MIN } else { x })
            .collect();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(low_quantile(&v), sorted[EDGE_QUANTILE]);
    }
}
