//! Tests of the layout: rectifying, the ink map, rows and their keys, colons, line boxes, the print,
//! the photo tests and the NIK's blur and glare.

use super::ink::*;
use super::lines::*;
use super::print::*;
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
    let dim = |x: u32, y: u32, base: i32| image::Luma([(base + grain(x, y)).clamp(0, 255) as u8]);
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
    let is_on =
        |b: &Band, slot: usize| b.y0.abs_diff(top(slot)) <= 1 && b.y1.abs_diff(top(slot) + 12) <= 1;
    // Twelve labelled rows, the last eight a slot lower than the grid of twelve: the address
    // took a second line on slot 4, of three digits.
    let full: Vec<usize> = (0..4).chain(5..13).collect();
    let labelled = vec![true; full.len()];
    let (ink, bands) = rows_with_a_short_one(&full, &[4]);
    // Too little ink per row for the rows' own threshold: no band there.
    let found = super::ink::bands(&ink, at::VALUE, at::ROWS_Y);
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
    let wrapped = short_wrapped_lines(&ink, &bands, &vec![true; bands.len()], &ColonShift::NONE);
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
    let is_on =
        |b: &Band, slot: usize| b.y0.abs_diff(top(slot)) <= 1 && b.y1.abs_diff(top(slot) + 12) <= 1;
    // Twelve rows, Kewarganegaraan's value (slot 10) "WNI", 2.4 mm long.
    let rows: Vec<(usize, f32)> = (0..12)
        .map(|s| (s, if s == 10 { 27.6 } else { 55.0 }))
        .collect();
    let (ink, bands) = labelled_rows(&rows, &[], 0.0);
    let found = super::ink::bands(&ink, at::VALUE, at::ROWS_Y);
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
