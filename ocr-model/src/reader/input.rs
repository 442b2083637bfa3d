//! Image bytes in: the formats and sizes the reader accepts, read from the header before anything
//! is allocated, decoded (a large JPEG at a reduced size) and turned grey.

use std::io::Cursor;

use image::{GrayImage, ImageFormat, RgbImage};

use super::Refusal;

/// Largest accepted file.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Largest accepted pixel count (a 40-megapixel photo); larger headers are refused before decoding.
pub const MAX_PIXELS: u64 = 40_000_000;

/// The accepted format and pixel size of image bytes, read from the header alone: oversized files,
/// other formats and pixel counts over [`MAX_PIXELS`] are refused before anything is allocated.
fn probe(bytes: &[u8]) -> Result<(ImageFormat, u32, u32), Refusal> {
    if bytes.len() > MAX_BYTES {
        return Err(Refusal::ImageTooLarge);
    }
    let format = image::guess_format(bytes).map_err(|_| Refusal::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(Refusal::NotAnImage);
    }
    let (w, h) = image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| Refusal::NotAnImage)?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Refusal::ImageTooLarge);
    }
    Ok((format, w, h))
}

/// Largest allocation a decoder may make: the pixels of the largest accepted photo and room for
/// its working buffers.
const MAX_DECODE_ALLOC: u64 = MAX_PIXELS * 4 + (64 << 20);

/// Decodes image bytes (JPEG, PNG or WebP, by content) into RGB, refusing oversized files and
/// pixel counts before allocating.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, Refusal> {
    let (format, w, h) = probe(bytes)?;
    decode_full(bytes, format, w, h)
}

/// Decodes bytes whose header [`probe`] read as `format`, `w` x `h`, at full size.
fn decode_full(bytes: &[u8], format: ImageFormat, w: u32, h: u32) -> Result<RgbImage, Refusal> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => Refusal::ImageTooLarge,
        _ => Refusal::NotAnImage,
    })?;
    Ok(img.into_rgb8())
}

/// Long side (pixels) from which a JPEG is decoded at half its size, and from twice this at a
/// quarter: a phone's 12-megapixel photo (4000 x 3000) is read at 2000 x 1500, where a card a
/// quarter of the photo wide is still 500 pixels wide, well over [`MIN_CARD_PX`](super::MIN_CARD_PX).
pub const REDUCE_FROM: u32 = 3600;

/// Decodes like [`decode`], but a JPEG whose long side is at least [`REDUCE_FROM`] pixels at a
/// half or a quarter of its size, by the IDCT's own scaling: most of a large photo's decoding and
/// every later pass over its pixels are saved, and no reader step counts in the photo's pixels.
/// Returns the image and the factor it was reduced by (1: full size). A JPEG the scaling decoder
/// does not turn into RGB or grey (CMYK, 12-bit) or fails on is decoded at full size.
pub fn decode_reduced(bytes: &[u8]) -> Result<(RgbImage, u32), Refusal> {
    let (format, w, h) = probe(bytes)?;
    let long = w.max(h);
    let factor = if long >= 2 * REDUCE_FROM { 4 } else { 2 };
    if format == ImageFormat::Jpeg
        && long >= REDUCE_FROM
        && let Some(img) = decode_jpeg_scaled(bytes, w, h, factor)
    {
        return Ok((img, factor));
    }
    decode_full(bytes, format, w, h).map(|img| (img, 1))
}

/// A JPEG decoded at `1 / factor` of its `w` x `h` header size, or `None`.
fn decode_jpeg_scaled(bytes: &[u8], w: u32, h: u32, factor: u32) -> Option<RgbImage> {
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.set_max_decoding_buffer_size(usize::try_from(MAX_DECODE_ALLOC).ok()?);
    decoder.read_info().ok()?;
    let info = decoder.info()?;
    // The header both decoders read must agree (one file, one size).
    if (u32::from(info.width), u32::from(info.height)) != (w, h) {
        return None;
    }
    let want = |v: u32| u16::try_from(v.div_ceil(factor)).ok();
    let (sw, sh) = decoder.scale(want(w)?, want(h)?).ok()?;
    let pixels = decoder.decode().ok()?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => RgbImage::from_raw(sw, sh, pixels),
        jpeg_decoder::PixelFormat::L8 => {
            let rgb = pixels.iter().flat_map(|&v| [v, v, v]).collect();
            RgbImage::from_raw(sw, sh, rgb)
        }
        _ => None,
    }
}

/// Grey levels of an RGB image (ITU-R 601 weights, integer arithmetic).
pub fn to_gray(img: &RgbImage) -> GrayImage {
    let data: Vec<u8> = img
        .as_raw()
        .chunks_exact(3)
        .map(|p| {
            ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8) as u8
        })
        .collect();
    GrayImage::from_raw(img.width(), img.height(), data).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_unsupported_formats_are_not_images() {
        assert_eq!(decode(b"hello"), Err(Refusal::NotAnImage));
        assert_eq!(decode(b""), Err(Refusal::NotAnImage));
        // A GIF header is recognised but not accepted.
        assert_eq!(decode(b"GIF89a\x01\x00\x01\x00"), Err(Refusal::NotAnImage));
        // A truncated PNG.
        assert_eq!(
            decode(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Err(Refusal::NotAnImage)
        );
    }

    fn jpeg_of(img: &image::DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(img)
            .expect("encode");
        out
    }

    #[test]
    fn large_jpegs_are_decoded_reduced_others_at_full_size() {
        // A colour 12-megapixel-class photo: half size, the same picture.
        let rgb = RgbImage::from_fn(3600, 2000, |x, _| image::Rgb([(x / 15) as u8, 90, 200]));
        let jpeg = jpeg_of(&image::DynamicImage::ImageRgb8(rgb));
        let (img, factor) = decode_reduced(&jpeg).expect("decodes");
        assert_eq!((factor, img.width(), img.height()), (2, 1800, 1000));
        let full = decode(&jpeg).expect("decodes");
        for x in [10u32, 900, 1790] {
            let (a, b) = (img.get_pixel(x, 500), full.get_pixel(2 * x, 1000));
            for c in 0..3 {
                assert!(a.0[c].abs_diff(b.0[c]) <= 6, "{x}: {a:?} against {b:?}");
            }
        }
        // A grey JPEG comes back as RGB too.
        let grey = GrayImage::from_pixel(2000, 3700, image::Luma([77]));
        let (img, factor) =
            decode_reduced(&jpeg_of(&image::DynamicImage::ImageLuma8(grey))).expect("decodes");
        assert_eq!((factor, img.width(), img.height()), (2, 1000, 1850));
        assert!(
            img.get_pixel(500, 900)
                .0
                .iter()
                .all(|&v| v.abs_diff(77) <= 2)
        );
        // Twice the threshold: a quarter.
        let wide = GrayImage::from_pixel(2 * REDUCE_FROM, 400, image::Luma([150]));
        let (img, factor) =
            decode_reduced(&jpeg_of(&image::DynamicImage::ImageLuma8(wide))).expect("decodes");
        assert_eq!(
            (factor, img.width(), img.height()),
            (4, REDUCE_FROM / 2, 100)
        );
        // Just under the threshold, and a PNG of any size: full size.
        let small = RgbImage::from_pixel(REDUCE_FROM - 1, 400, image::Rgb([1, 2, 3]));
        let (img, factor) =
            decode_reduced(&jpeg_of(&image::DynamicImage::ImageRgb8(small))).unwrap();
        assert_eq!((factor, img.width()), (1, REDUCE_FROM - 1));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(RgbImage::new(4000, 300))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert_eq!(
            decode_reduced(&png).map(|(i, f)| (f, i.width())),
            Ok((1, 4000))
        );
        // Refusals are decode's.
        assert_eq!(decode_reduced(b"hello"), Err(Refusal::NotAnImage));
        assert_eq!(
            decode_reduced(&vec![0u8; MAX_BYTES + 1]),
            Err(Refusal::ImageTooLarge)
        );
        // A truncated large JPEG is taken or refused as the full-size decoder takes it.
        let cut = &jpeg[..jpeg.len() / 3];
        assert_eq!(decode_reduced(cut).is_ok(), decode(cut).is_ok());
    }

    #[test]
    fn a_png_claiming_huge_dimensions_is_refused_before_decoding() {
        // IHDR for 100000 x 100000 (CRC wrong on purpose: the size check comes first or the
        // decoder refuses; both end in a refusal, never an allocation).
        let mut png = Vec::new();
        png.extend_from_slice(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        let r = decode(&png);
        assert!(
            matches!(r, Err(Refusal::ImageTooLarge | Refusal::NotAnImage)),
            "{r:?}"
        );
        let big = vec![0u8; MAX_BYTES + 1];
        assert_eq!(decode(&big), Err(Refusal::ImageTooLarge));
    }

    #[test]
    fn gray_weights_match_the_usual_luma() {
        let img = RgbImage::from_raw(3, 1, vec![255, 0, 0, 0, 255, 0, 10, 20, 30]).unwrap();
        let g = to_gray(&img);
        assert_eq!(g.as_raw(), &vec![77, 149, 18]);
    }
}
