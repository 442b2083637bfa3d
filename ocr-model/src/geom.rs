//! Plane geometry shared by the renderer and the reader: points, quadrilaterals and the homography between card and image.

/// A point in pixel coordinates (x to the right, y down).
pub type Point = [f32; 2];

/// Four corners in order top-left, top-right, bottom-right, bottom-left (of the upright text or card).
pub type Quad = [Point; 4];

/// The corners of the axis-aligned rectangle `x0..x1` by `y0..y1`, in [`Quad`] order.
pub fn rect_quad(x0: f32, y0: f32, x1: f32, y1: f32) -> Quad {
    [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
}

/// A projective transform of the plane, row-major 3x3 with `m[8]` normalised to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography {
    m: [f64; 9],
}

impl Homography {
    /// The identity transform.
    pub fn identity() -> Self {
        Self {
            m: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        }
    }

    /// The transform taking each `from[i]` to `to[i]`, or `None` when the points are degenerate
    /// (three of them on a line).
    pub fn from_quads(from: &Quad, to: &Quad) -> Option<Self> {
        // Unknowns h0..h7 with h8 = 1: two equations per correspondence.
        let mut a = [[0.0f64; 9]; 8];
        for i in 0..4 {
            let (x, y) = (f64::from(from[i][0]), f64::from(from[i][1]));
            let (u, v) = (f64::from(to[i][0]), f64::from(to[i][1]));
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        let h = solve8(&mut a)?;
        Some(Self {
            m: [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0],
        })
    }

    /// Applies the transform to a point.
    pub fn apply(&self, p: Point) -> Point {
        let (x, y) = (f64::from(p[0]), f64::from(p[1]));
        let m = &self.m;
        let w = m[6] * x + m[7] * y + m[8];
        let w = if w.abs() < 1e-12 { 1e-12 } else { w };
        [
            ((m[0] * x + m[1] * y + m[2]) / w) as f32,
            ((m[3] * x + m[4] * y + m[5]) / w) as f32,
        ]
    }

    /// Applies the transform to each corner of a quadrilateral.
    pub fn apply_quad(&self, q: &Quad) -> Quad {
        [
            self.apply(q[0]),
            self.apply(q[1]),
            self.apply(q[2]),
            self.apply(q[3]),
        ]
    }

    /// The raw coefficients, row-major, for inner loops that step along a row.
    pub fn coefficients(&self) -> [f64; 9] {
        self.m
    }
}

/// Gaussian elimination with partial pivoting on an 8x8 system augmented with its right-hand side.
fn solve8(a: &mut [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-10 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (row, r) in a.iter_mut().enumerate() {
            if row != col {
                let f = r[col] / pivot_row[col];
                if f != 0.0 {
                    for (x, p) in r[col..].iter_mut().zip(&pivot_row[col..]) {
                        *x -= f * p;
                    }
                }
            }
        }
    }
    let mut x = [0.0; 8];
    for (i, xi) in x.iter_mut().enumerate() {
        *xi = a[i][8] / a[i][i];
    }
    Some(x)
}

/// Axis-aligned bounds `(min_x, min_y, max_x, max_y)` of a quadrilateral.
pub fn bounds(q: &Quad) -> (f32, f32, f32, f32) {
    let mut b = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in q {
        b.0 = b.0.min(p[0]);
        b.1 = b.1.min(p[1]);
        b.2 = b.2.max(p[0]);
        b.3 = b.3.max(p[1]);
    }
    b
}

/// The point a share `t` of the way from `a` to `b`.
pub fn lerp(a: Point, b: Point, t: f32) -> Point {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
}

/// Euclidean distance between two points.
pub fn dist(a: Point, b: Point) -> f32 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homography_maps_corners_and_inverts() {
        let from = rect_quad(0.0, 0.0, 856.0, 540.0);
        let to = [[100.0, 80.0], [900.0, 120.0], [870.0, 640.0], [60.0, 600.0]];
        let h = Homography::from_quads(&from, &to).expect("not degenerate");
        for i in 0..4 {
            let p = h.apply(from[i]);
            assert!(dist(p, to[i]) < 1e-2, "{p:?} vs {:?}", to[i]);
        }
        let inv = Homography::from_quads(&to, &from).expect("not degenerate");
        let p = inv.apply(h.apply([300.0, 200.0]));
        assert!(dist(p, [300.0, 200.0]) < 1e-2);
    }

    #[test]
    fn degenerate_quad_is_refused() {
        let from = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]];
        assert!(Homography::from_quads(&from, &rect_quad(0.0, 0.0, 1.0, 1.0)).is_none());
    }
}
