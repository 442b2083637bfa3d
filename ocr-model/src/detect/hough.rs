//! The card finder's straight-line candidates: the card's four edges as the strongest straight
//! lines of the shrunk photo (a Hough transform of its luma gradient), paired into
//! quadrilaterals of the card's shape whose sides are edges along their whole length.
//!
//! The masks find the card as a region of one colour; a shadow edge across the card cuts that
//! region in two, and a light card on a light desk has no region of its own. Its outline is
//! still four straight steps in brightness, which this finds.

use super::{
    CARD_RATIO, Candidate, Small, card_like_ratio, cross, order, polygon_area, shape_score,
};
use crate::geom::{Point, Quad, dist};

/// Angle bins over half a turn (one degree each).
const THETAS: usize = 180;
/// Each edge pixel votes for lines within this many degrees of its gradient's direction.
const SPREAD: usize = 2;
/// A pixel is an edge pixel when its luma gradient (grey levels per working pixel) is above this.
const MIN_GRADIENT: f32 = 4.0;
/// Lines kept from the transform, strongest first.
const MAX_LINES: usize = 24;
/// Opposite sides of a card in a phone photo are parallel within this many degrees.
const MAX_SKEW_DEG: f32 = 16.0;
/// Neighbouring sides meet at no less than this many degrees.
const MIN_CORNER_DEG: f32 = 60.0;
/// Points sampled along each side to measure how much of it is an edge.
const SAMPLES: usize = 24;
/// A quadrilateral needs every side at least this well supported ([`side_support`]).
const MIN_SUPPORT: f32 = 0.5;
/// Quadrilaterals returned, best first.
const MAX_QUADS: usize = 4;

/// A line `x cos(theta) + y sin(theta) = rho` in working pixels, with its votes.
#[derive(Debug, Clone, Copy)]
struct Line {
    theta: f32,
    rho: f32,
    votes: f32,
}

impl Line {
    fn normal(&self) -> [f32; 2] {
        [self.theta.cos(), self.theta.sin()]
    }

    fn meet(&self, other: &Line) -> Option<Point> {
        let (a, b) = (self.normal(), other.normal());
        let det = a[0] * b[1] - a[1] * b[0];
        if det.abs() < 1e-4 {
            return None;
        }
        Some([
            (self.rho * b[1] - other.rho * a[1]) / det,
            (a[0] * other.rho - b[0] * self.rho) / det,
        ])
    }
}

/// Luma gradient (Sobel, grey levels per pixel) of the working image.
struct Gradient {
    w: usize,
    h: usize,
    gx: Vec<f32>,
    gy: Vec<f32>,
}

impl Gradient {
    fn new(s: &Small) -> Self {
        let (w, h) = (s.w, s.h);
        let luma: Vec<f32> = s
            .rgb
            .iter()
            .map(|c| 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])
            .collect();
        let mut gx = vec![0.0f32; w * h];
        let mut gy = vec![0.0f32; w * h];
        if w >= 3 && h >= 3 {
            for y in 1..h - 1 {
                for x in 1..w - 1 {
                    let p = |dx: usize, dy: usize| luma[(y + dy - 1) * w + x + dx - 1];
                    let i = y * w + x;
                    gx[i] = (p(2, 0) + 2.0 * p(2, 1) + p(2, 2) - p(0, 0) - 2.0 * p(0, 1) - p(0, 2))
                        / 8.0;
                    gy[i] = (p(0, 2) + 2.0 * p(1, 2) + p(2, 2) - p(0, 0) - 2.0 * p(1, 0) - p(2, 0))
                        / 8.0;
                }
            }
        }
        Gradient { w, h, gx, gy }
    }

    /// The gradient at the nearest pixel, or zero outside.
    fn at(&self, p: Point) -> [f32; 2] {
        if p[0] < 0.0 || p[1] < 0.0 {
            return [0.0, 0.0];
        }
        let (x, y) = (p[0] as usize, p[1] as usize);
        if x >= self.w || y >= self.h {
            return [0.0, 0.0];
        }
        [self.gx[y * self.w + x], self.gy[y * self.w + x]]
    }
}

/// The strongest straight lines of edge pixels, at most [`MAX_LINES`].
fn lines(g: &Gradient) -> Vec<Line> {
    let (w, h) = (g.w, g.h);
    let diag = ((w * w + h * h) as f32).sqrt().ceil() as usize + 1;
    let rhos = 2 * diag + 1;
    let trig: Vec<(f32, f32)> = (0..THETAS)
        .map(|t| {
            let a = t as f32 * std::f32::consts::PI / THETAS as f32;
            (a.cos(), a.sin())
        })
        .collect();
    let mut acc = vec![0.0f32; THETAS * rhos];
    for y in 0..h {
        for x in 0..w {
            let (gx, gy) = (g.gx[y * w + x], g.gy[y * w + x]);
            let m = (gx * gx + gy * gy).sqrt();
            if m < MIN_GRADIENT {
                continue;
            }
            let mut a = gy.atan2(gx).to_degrees();
            if a < 0.0 {
                a += 180.0;
            }
            let centre = (a.round() as usize) % THETAS;
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            for d in 0..=2 * SPREAD {
                let t = (centre + THETAS + d - SPREAD) % THETAS;
                let (c, s) = trig[t];
                let r = (px * c + py * s).round() as isize + diag as isize;
                if (0..rhos as isize).contains(&r) {
                    acc[t * rhos + r as usize] += 1.0;
                }
            }
        }
    }
    // Peaks: local maxima over +-3 degrees and +-4 pixels (angles wrap with rho mirrored), with
    // at least as many votes as a twentieth of the photo's shorter side (a side half hidden by a
    // thumb is still a line).
    let floor = (w.min(h) as f32 / 20.0).max(8.0);
    let mut peaks = Vec::new();
    for t in 0..THETAS {
        for r in 0..rhos {
            let v = acc[t * rhos + r];
            if v < floor {
                continue;
            }
            let mut is_peak = true;
            'window: for dt in -3isize..=3 {
                let mut tt = t as isize + dt;
                let mut mirror = false;
                if tt < 0 {
                    tt += THETAS as isize;
                    mirror = true;
                } else if tt >= THETAS as isize {
                    tt -= THETAS as isize;
                    mirror = true;
                }
                for dr in -4isize..=4 {
                    let rr = if mirror {
                        2 * diag as isize - (r as isize + dr)
                    } else {
                        r as isize + dr
                    };
                    if !(0..rhos as isize).contains(&rr) || (dt == 0 && dr == 0) {
                        continue;
                    }
                    let u = acc[tt as usize * rhos + rr as usize];
                    // Ties go to the first in scan order.
                    if u > v || (u == v && (tt as usize, rr as usize) < (t, r)) {
                        is_peak = false;
                        break 'window;
                    }
                }
            }
            if is_peak {
                peaks.push(Line {
                    theta: t as f32 * std::f32::consts::PI / THETAS as f32,
                    rho: r as f32 - diag as f32,
                    votes: v,
                });
            }
        }
    }
    peaks.sort_by(|a, b| b.votes.total_cmp(&a.votes));
    peaks.truncate(MAX_LINES);
    peaks
}

/// The angle between two lines' directions, in degrees (0 to 90).
fn angle_between(a: &Line, b: &Line) -> f32 {
    let d = (a.theta - b.theta).abs().to_degrees() % 180.0;
    d.min(180.0 - d)
}

/// How much of the line through `a` and `b` is an edge of one sense (brighter on the same side
/// all along) between `t0` and `t1` (0 at `a`, 1 at `b`), in `[0, 1]`: the share of points where
/// the gradient across the line within a pixel either way is at least [`MIN_GRADIENT`].
fn edge_share(g: &Gradient, a: Point, b: Point, t0: f32, t1: f32) -> f32 {
    let len = dist(a, b).max(1e-3);
    let n = [-(b[1] - a[1]) / len, (b[0] - a[0]) / len];
    let (mut plus, mut minus, mut all) = (0usize, 0usize, 0usize);
    for k in 0..SAMPLES {
        let t = t0 + (t1 - t0) * (k as f32 + 0.5) / SAMPLES as f32;
        let p = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
        if p[0] < 1.0 || p[1] < 1.0 || p[0] > (g.w - 1) as f32 || p[1] > (g.h - 1) as f32 {
            continue;
        }
        all += 1;
        let across = (-1..=1)
            .map(|o| {
                let q = [p[0] + n[0] * o as f32, p[1] + n[1] * o as f32];
                let v = g.at(q);
                v[0] * n[0] + v[1] * n[1]
            })
            .fold(
                0.0f32,
                |best, v| if v.abs() > best.abs() { v } else { best },
            );
        if across >= MIN_GRADIENT {
            plus += 1;
        } else if across <= -MIN_GRADIENT {
            minus += 1;
        }
    }
    plus.max(minus) as f32 / all.max(1) as f32
}

/// How well the side from `a` to `b` is a card's edge, in `[0, 1]`: how much of it (away from
/// the rounded corners) is an edge, less how much the edge goes on past both corners. A shadow's
/// edge across the card runs on over the desk; the card's own edge stops at its corners.
fn side_support(g: &Gradient, a: Point, b: Point) -> f32 {
    let along = edge_share(g, a, b, 0.1, 0.9);
    if along < MIN_SUPPORT {
        return along;
    }
    let before = edge_share(g, a, b, -0.3, -0.08);
    let after = edge_share(g, a, b, 1.08, 1.3);
    along * (1.0 - before.min(after))
}

/// Quadrilaterals of card shape whose four sides lie on strong lines, best first (working
/// pixels, reading order), scored like the masks' candidates with full fill, times how much of
/// their least supported side is an edge.
pub(super) fn quads(s: &Small) -> Vec<Candidate> {
    let g = Gradient::new(s);
    let found = lines(&g);
    let min_gap = (s.w.min(s.h) as f32 * 0.08).max(6.0);
    // Pairs of nearly parallel lines some way apart: the card's opposite sides.
    let mut pairs = Vec::new();
    for i in 0..found.len() {
        for j in i + 1..found.len() {
            let (a, b) = (&found[i], &found[j]);
            if angle_between(a, b) > MAX_SKEW_DEG {
                continue;
            }
            // How far apart they pass the middle of the photo (signed distances, with the
            // normals turned the same way).
            let mid = [s.w as f32 / 2.0, s.h as f32 / 2.0];
            let (na, nb) = (a.normal(), b.normal());
            let da = na[0] * mid[0] + na[1] * mid[1] - a.rho;
            let db = nb[0] * mid[0] + nb[1] * mid[1] - b.rho;
            let same = na[0] * nb[0] + na[1] * nb[1] >= 0.0;
            let gap = if same {
                (da - db).abs()
            } else {
                (da + db).abs()
            };
            if gap >= min_gap {
                pairs.push((i, j));
            }
        }
    }
    let area = (s.w * s.h) as f32;
    let margin = 0.02 * s.w.max(s.h) as f32;
    let mut out: Vec<Candidate> = Vec::new();
    for (x, &(a0, a1)) in pairs.iter().enumerate() {
        for &(b0, b1) in &pairs[x + 1..] {
            if [b0, b1].iter().any(|b| *b == a0 || *b == a1) {
                continue;
            }
            let (la, lb) = (&found[a0], &found[b0]);
            if angle_between(la, lb) < MIN_CORNER_DEG
                || angle_between(&found[a1], &found[b1]) < MIN_CORNER_DEG
            {
                continue;
            }
            let corners = [
                found[a0].meet(&found[b0]),
                found[a0].meet(&found[b1]),
                found[a1].meet(&found[b1]),
                found[a1].meet(&found[b0]),
            ];
            let [Some(p0), Some(p1), Some(p2), Some(p3)] = corners else {
                continue;
            };
            let q: Quad = [p0, p1, p2, p3];
            if q.iter().any(|p| {
                p[0] < -margin
                    || p[1] < -margin
                    || p[0] > s.w as f32 + margin
                    || p[1] > s.h as f32 + margin
            }) {
                continue;
            }
            // Convex, turning one way.
            let turn: Vec<f32> = (0..4)
                .map(|i| cross(q[i], q[(i + 1) % 4], q[(i + 2) % 4]))
                .collect();
            if !(turn.iter().all(|&t| t > 0.0) || turn.iter().all(|&t| t < 0.0)) {
                continue;
            }
            if polygon_area(&q) < 0.02 * area {
                continue;
            }
            let q = order(q, (s.w, s.h));
            let ratio = card_like_ratio(&q, (s.w as f32, s.h as f32));
            if !(CARD_RATIO / 1.35..=CARD_RATIO * 1.35).contains(&ratio) {
                continue;
            }
            // The least supported side; a side under the minimum ends the count.
            let mut support = 1.0f32;
            for i in 0..4 {
                support = support.min(side_support(&g, q[i], q[(i + 1) % 4]));
                if support < MIN_SUPPORT {
                    break;
                }
            }
            if support < MIN_SUPPORT {
                continue;
            }
            let score = shape_score(&q, 1.0, s) * support;
            out.push(Candidate { quad: q, score });
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    // Distinct quadrilaterals only (the same card from neighbouring peaks).
    let mut kept: Vec<Candidate> = Vec::new();
    for c in out {
        let near = |k: &Candidate| (0..4).all(|i| dist(k.quad[i], c.quad[i]) < min_gap / 2.0);
        if !kept.iter().any(near) {
            kept.push(c);
        }
        if kept.len() == MAX_QUADS {
            break;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_with_card(w: usize, h: usize, q: &Quad, card: [f32; 3], desk: [f32; 3]) -> Small {
        let mut rgb = vec![desk; w * h];
        for y in 0..h {
            for x in 0..w {
                let p = [x as f32 + 0.5, y as f32 + 0.5];
                if (0..4).all(|i| cross(q[i], q[(i + 1) % 4], p) >= 0.0) {
                    rgb[y * w + x] = card;
                }
            }
        }
        Small { w, h, k: 1.0, rgb }
    }

    /// The best quadrilateral has every corner within 6 working pixels of `q`'s: lines are found
    /// to a degree and a pixel, and `refine_edges` polishes them afterwards.
    fn assert_best_near(s: &Small, q: &Quad) {
        let found = quads(s);
        let best = found.first().expect("a quadrilateral");
        for (p, t) in best.quad.iter().zip(q.iter()) {
            assert!(dist(*p, *t) < 6.0, "{:?} against {:?}", best.quad, q);
        }
    }

    #[test]
    fn finds_a_faint_card_on_a_desk_of_nearly_its_colour() {
        // 8 grey levels apart: no mask splits them, the outline is still four lines.
        let q: Quad = [[60.0, 50.0], [300.0, 62.0], [292.0, 215.0], [52.0, 200.0]];
        let s = small_with_card(360, 270, &q, [212.0, 214.0, 216.0], [204.0, 205.0, 206.0]);
        assert_best_near(&s, &q);
    }

    #[test]
    fn a_shadow_edge_across_the_card_does_not_take_a_side() {
        let q: Quad = [[60.0, 50.0], [300.0, 62.0], [292.0, 215.0], [52.0, 200.0]];
        let mut s = small_with_card(360, 270, &q, [225.0, 228.0, 230.0], [120.0, 110.0, 100.0]);
        // Everything right of a slanted line is in shadow (card and desk alike).
        for y in 0..s.h {
            for x in 0..s.w {
                if x as f32 > 170.0 + 0.3 * y as f32 {
                    let c = &mut s.rgb[y * s.w + x];
                    *c = c.map(|v| v * 0.55);
                }
            }
        }
        assert_best_near(&s, &q);
    }

    #[test]
    fn a_plain_photo_has_no_quadrilateral() {
        let s = Small {
            w: 200,
            h: 150,
            k: 1.0,
            rgb: vec![[128.0; 3]; 200 * 150],
        };
        assert!(quads(&s).is_empty());
    }
}
