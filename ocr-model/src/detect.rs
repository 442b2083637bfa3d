//! Finding the card in a photo: its four corners in image pixels, in reading order (top-left first).
//!
//! The photo is shrunk to at most [`WORK_SIDE`] pixels on its long side. Three masks are tried,
//! each thresholded with Otsu's method: brightness (a card on a dark desk), blueness `b - r` (the
//! card's blue-green print on white paper or a scanner bed) and distance to the colour at the middle
//! of the photo (where a kiosk user holds the card). Each mask is opened, the blob under the middle
//! (or the largest) is kept, and its outline is fitted with four straight sides (least squares over
//! the outline points near each side of its convex hull, so rounded corners do not pull the fit).
//! A candidate scores by how well the blob fills its quadrilateral, how close its side ratio is
//! to the card's 85.6 : 54 and how much of the photo it covers; the best wins. Upside-down cards
//! are handled after rectification (see `layout`).

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

/// Pixels of the blob plus its holes: everything the outside cannot reach without crossing it.
fn solid_area(member: &[bool], w: usize, h: usize) -> usize {
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
    outside.iter().filter(|&&o| !o).count()
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
/// upright card (the upper of the two long sides is the top).
fn order(q: [Point; 4]) -> Quad {
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
    let side = |i: usize| dist(v[i], v[(i + 1) % 4]);
    let long = if side(0) + side(2) >= side(1) + side(3) {
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

fn candidate(mask: &[bool], s: &Small) -> Option<FoundCard> {
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
    let ordered = order(quad);
    let ratio = side_ratio(&ordered);
    let aspect = (-((ratio / CARD_RATIO).ln() / 0.22).powi(2)).exp();
    let area_fraction = area / (w * h) as f32;
    // Small cards are still found (and then refused as too small, not as "no card"); among
    // card-like blobs the larger wins.
    let coverage = (area_fraction / 0.03).min(1.0) * (0.8 + 0.2 * (area_fraction / 0.3).min(1.0));
    // Touching the border on two or more sides usually means the blob is the background.
    let touches = [
        ordered.iter().any(|p| p[0] < 1.0),
        ordered.iter().any(|p| p[1] < 1.0),
        ordered.iter().any(|p| p[0] > w as f32 - 1.0),
        ordered.iter().any(|p| p[1] > h as f32 - 1.0),
    ]
    .iter()
    .filter(|&&t| t)
    .count();
    let border = if touches >= 3 { 0.3 } else { 1.0 };
    // A quad reaching well outside the photo is a blob that leaked into the background.
    let margin = 0.02 * (w.max(h) as f32);
    let outside = ordered.iter().any(|p| {
        p[0] < -margin || p[1] < -margin || p[0] > w as f32 + margin || p[1] > h as f32 + margin
    });
    let border = if outside { border * 0.5 } else { border };
    let edges = (edge_contrast(&ordered, s) / 24.0).clamp(0.0, 1.0);
    let score = fill * fill * aspect * coverage * border * (0.4 + 0.6 * edges);
    let k = s.k;
    Some(FoundCard {
        corners: ordered.map(|p| [p[0] * k, p[1] * k]),
        score,
        area_fraction,
    })
}

/// A candidate this good is taken without trying the remaining masks.
pub const GOOD_ENOUGH: f32 = 0.9;

/// Every mask's candidate with the mask's name (`luma`, `blue`, `centre-TOL`), best first; unless
/// `exhaustive`, the search stops at the first candidate scoring [`GOOD_ENOUGH`].
pub fn candidates(img: &RgbImage, exhaustive: bool) -> Vec<(&'static str, FoundCard)> {
    if img.width() < 8 || img.height() < 8 {
        return Vec::new();
    }
    let s = shrink(img);
    let luma: Vec<f32> = s
        .rgb
        .iter()
        .map(|c| 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])
        .collect();
    let blue: Vec<f32> = s.rgb.iter().map(|c| c[2] - c[0]).collect();
    // The colour in the middle tenth of the photo (median per channel).
    let mut mid = [Vec::new(), Vec::new(), Vec::new()];
    for y in s.h * 9 / 20..s.h * 11 / 20 {
        for x in s.w * 9 / 20..s.w * 11 / 20 {
            for (k, m) in mid.iter_mut().enumerate() {
                m.push(s.rgb[y * s.w + x][k]);
            }
        }
    }
    let centre: Vec<f32> = mid
        .iter_mut()
        .map(|m| {
            m.sort_by(f32::total_cmp);
            m.get(m.len() / 2).copied().unwrap_or(0.0)
        })
        .collect();
    let distance: Vec<f32> = s
        .rgb
        .iter()
        .map(|c| {
            ((c[0] - centre[0]).powi(2) + (c[1] - centre[1]).powi(2) + (c[2] - centre[2]).powi(2))
                .sqrt()
        })
        .collect();
    let mut out = Vec::new();
    let mut masks: Vec<(&'static str, Vec<bool>)> = Vec::new();
    for (name, values) in [("luma", &luma), ("blue", &blue)] {
        if let Some(t) = otsu(values) {
            masks.push((name, values.iter().map(|&v| v > t).collect()));
        }
    }
    // Colour distance to the middle at several tolerances: Otsu on it often splits the print from
    // everything else, so the tolerance that gives the most card-like blob wins.
    for (name, tol) in [
        ("centre-20", 20.0),
        ("centre-32", 32.0),
        ("centre-45", 45.0),
        ("centre-60", 60.0),
        ("centre-80", 80.0),
    ] {
        masks.push((name, distance.iter().map(|&d| d < tol).collect()));
    }
    for (name, mask) in masks {
        // A near-perfect candidate ends the search (most photos): the rest would only cost time.
        if !exhaustive
            && out
                .iter()
                .any(|(_, c): &(&str, FoundCard)| c.score >= GOOD_ENOUGH)
        {
            break;
        }
        if let Ok(d) = std::env::var("KTP_DEBUG_MASKS") {
            let img = image::GrayImage::from_fn(s.w as u32, s.h as u32, |x, y| {
                image::Luma([if mask[y as usize * s.w + x as usize] {
                    255
                } else {
                    0
                }])
            });
            let _ = img.save(format!("{d}/{name}.png"));
        }
        if let Some(c) = candidate(&mask, &s) {
            out.push((name, c));
        }
    }
    out.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    out
}

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
}
