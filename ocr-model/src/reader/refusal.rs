//! Why a photo is not read: the refusals, each with a stable code and a message in Indonesian
//! then English, and the reader's own failures.

use serde::Serialize;

use crate::recognizer::RecognizerError;

/// Why a photo was not read. Each has a stable code and a message in Indonesian, then English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    #[error("not_an_image")]
    NotAnImage,
    #[error("image_too_large")]
    ImageTooLarge,
    #[error("image_too_small")]
    ImageTooSmall,
    #[error("not_a_ktp")]
    NotAKtp,
    #[error("too_dark")]
    TooDark,
    #[error("too_blurred")]
    TooBlurred,
    #[error("glare_on_nik")]
    GlareOnNik,
}

impl Refusal {
    /// Every refusal.
    pub const ALL: [Refusal; 7] = [
        Refusal::NotAnImage,
        Refusal::ImageTooLarge,
        Refusal::ImageTooSmall,
        Refusal::NotAKtp,
        Refusal::TooDark,
        Refusal::TooBlurred,
        Refusal::GlareOnNik,
    ];

    /// The refusal with this code.
    pub fn from_code(code: &str) -> Option<Refusal> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NotAnImage => "not_an_image",
            Refusal::ImageTooLarge => "image_too_large",
            Refusal::ImageTooSmall => "image_too_small",
            Refusal::NotAKtp => "not_a_ktp",
            Refusal::TooDark => "too_dark",
            Refusal::TooBlurred => "too_blurred",
            Refusal::GlareOnNik => "glare_on_nik",
        }
    }

    /// What to tell the person holding the card.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotAnImage => {
                "Berkas bukan gambar JPEG, PNG atau WebP yang utuh. / The file is not a readable JPEG, PNG or WebP image."
            }
            Refusal::ImageTooLarge => {
                "Gambar terlalu besar (maks. 10 MB dan 40 megapiksel). / The image is too large (at most 10 MB and 40 megapixels)."
            }
            Refusal::ImageTooSmall => {
                "Gambar atau kartu terlalu kecil: dekatkan KTP ke kamera. / The image or the card in it is too small: hold the KTP closer."
            }
            Refusal::NotAKtp => {
                "Tidak ditemukan KTP di foto: letakkan seluruh kartu di tengah bingkai. / No KTP found: place the whole card in the middle of the frame."
            }
            Refusal::TooDark => {
                "Foto terlalu gelap: tambah cahaya. / The photo is too dark: add light."
            }
            Refusal::TooBlurred => {
                "Foto terlalu buram: tahan kartu diam dan fokuskan kamera. / The photo is too blurred: hold the card still and let the camera focus."
            }
            Refusal::GlareOnNik => {
                "Pantulan cahaya menutupi NIK: miringkan kartu sedikit. / Glare covers the NIK: tilt the card a little."
            }
        }
    }
}

/// A failed read: a refusal (the photo's fault) or a fault of the reader itself.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error("the recogniser failed")]
    Recognizer(#[from] RecognizerError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_codes_are_stable_and_messages_say_it_in_indonesian_first() {
        for r in Refusal::ALL {
            assert_eq!(r.to_string(), r.code());
            assert_eq!(Refusal::from_code(r.code()), Some(r));
            assert!(r.message().contains(" / "));
        }
    }
}
