//! Text on the card: measuring and drawing one line of text with ab_glyph, with synthetic variation
//! (horizontal squeeze, tracking, emboldening) so a few faces give many looks.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use image::RgbImage;

/// How one line of text is set.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle<'a> {
    /// The face.
    pub font: &'a FontVec,
    /// Pixel size: `y` is the em height, `x` smaller than `y` squeezes the line horizontally.
    pub scale: PxScale,
    /// Extra space after every glyph, in pixels (may be negative).
    pub tracking: f32,
    /// Synthetic emboldening: the outline is stamped again up to this many pixels to the right and
    /// half as far up and down, so strokes grow in both directions as in a bold cut.
    pub embolden: f32,
    /// Synthetic thinning, 0..1: coverage below this share is dropped and the rest stretched, which
    /// pares up to half a pixel off every edge (a light cut, or a printer low on toner).
    pub thin: f32,
    /// Ink colour.
    pub color: [u8; 3],
    /// Ink opacity, 0..=1.
    pub opacity: f32,
}

impl TextStyle<'_> {
    /// Distance from baseline up to the face's ascent line, in pixels (positive).
    pub fn ascent(&self) -> f32 {
        self.font.as_scaled(self.scale).ascent()
    }

    /// Distance from baseline down to the face's descent line, in pixels (positive).
    pub fn descent(&self) -> f32 {
        -self.font.as_scaled(self.scale).descent()
    }

    /// Height of a capital letter above the baseline, in pixels.
    pub fn cap_height(&self) -> f32 {
        let glyph = self
            .font
            .glyph_id('H')
            .with_scale_and_position(self.scale, point(0.0, 0.0));
        self.font
            .outline_glyph(glyph)
            .map(|o| -o.px_bounds().min.y)
            .filter(|h| *h > 0.0)
            .unwrap_or_else(|| self.ascent() * 0.72)
    }

    /// Advance width of `text` in pixels, including kerning, tracking and emboldening.
    pub fn width(&self, text: &str) -> f32 {
        let f = self.font.as_scaled(self.scale);
        let mut w = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let id = self.font.glyph_id(c);
            if let Some(p) = prev {
                w += f.kern(p, id);
            }
            w += f.h_advance(id) + self.tracking;
            prev = Some(id);
        }
        if prev.is_some() {
            w -= self.tracking;
        }
        w + self.embolden
    }
}

/// Draws `text` with its baseline at `baseline` and its origin at `x`; returns the advance width.
///
/// Glyph coverage is gathered into a mask first (maximum where outlines overlap) and blended once,
/// so emboldening and tight tracking do not darken overlaps.
pub fn draw(img: &mut RgbImage, style: &TextStyle<'_>, text: &str, x: f32, baseline: f32) -> f32 {
    let width = style.width(text);
    let f = style.font.as_scaled(style.scale);
    let top = (baseline - f.ascent() - 2.0).floor();
    let left = (x - 2.0).floor();
    let mw = (width + 6.0 + f.scale().x * 0.3).ceil().max(1.0) as usize;
    let mh = (f.ascent() - f.descent() + 5.0).ceil().max(1.0) as usize;
    let mut mask = vec![0.0f32; mw * mh];

    // Stamp offsets as shares of `embolden`: across, and half as far up and down.
    let stamps: &[[f32; 2]] = if style.embolden > 0.0 {
        &[
            [0.0, 0.0],
            [0.5, 0.0],
            [1.0, 0.0],
            [0.25, -0.25],
            [0.75, -0.25],
            [0.25, 0.25],
            [0.75, 0.25],
        ]
    } else {
        &[[0.0, 0.0]]
    };
    let mut pen = x;
    let mut prev = None;
    for c in text.chars() {
        let id = style.font.glyph_id(c);
        if let Some(p) = prev {
            pen += f.kern(p, id);
        }
        for s in stamps {
            let glyph = id.with_scale_and_position(
                style.scale,
                point(
                    pen + s[0] * style.embolden,
                    baseline + s[1] * style.embolden,
                ),
            );
            if let Some(outline) = style.font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                let ox = b.min.x as i64 - left as i64;
                let oy = b.min.y as i64 - top as i64;
                outline.draw(|gx, gy, cov| {
                    let mx = ox + i64::from(gx);
                    let my = oy + i64::from(gy);
                    if mx >= 0 && my >= 0 && (mx as usize) < mw && (my as usize) < mh {
                        let m = &mut mask[my as usize * mw + mx as usize];
                        *m = m.max(cov.min(1.0));
                    }
                });
            }
        }
        pen += f.h_advance(id) + style.tracking;
        prev = Some(id);
    }

    if style.thin > 0.0 {
        let keep = 1.0 / (1.0 - style.thin.min(0.9));
        for m in &mut mask {
            *m = ((*m - style.thin) * keep).clamp(0.0, 1.0);
        }
    }
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    for my in 0..mh {
        let py = top as i64 + my as i64;
        if py < 0 || py >= ih {
            continue;
        }
        for mx in 0..mw {
            let a = mask[my * mw + mx] * style.opacity;
            if a <= 0.0 {
                continue;
            }
            let px = left as i64 + mx as i64;
            if px < 0 || px >= iw {
                continue;
            }
            let p = img.get_pixel_mut(px as u32, py as u32);
            for k in 0..3 {
                let d = f32::from(p.0[k]);
                p.0[k] = (d + (f32::from(style.color[k]) - d) * a + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
    }
    width
}
