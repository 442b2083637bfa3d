//! What a read returns to its caller: one line of `clinic-node ocr` output, the body of
//! `POST /api/v1/ktp/scan`, and a readable summary for the terminal.

use std::time::Instant;

use serde::Serialize;

use super::{KtpReader, Scan, ScanError};

/// One line of `clinic-node ocr` output and the body of `POST /api/v1/ktp/scan`.
#[derive(Debug, Clone, Serialize)]
pub struct ScanOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub ok: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub scan: Option<Scan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    pub elapsed_ms: f64,
}

/// The `error` object of a refused or failed read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl ScanOutput {
    /// Reads `bytes` and times it, folding refusals and failures into the output.
    pub fn read(reader: &KtpReader, file: Option<String>, bytes: &[u8]) -> Self {
        let start = Instant::now();
        let result = reader.read_bytes(bytes);
        let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
        let elapsed_ms = (elapsed_ms * 10.0).round() / 10.0;
        match result {
            Ok(scan) => ScanOutput {
                file,
                ok: true,
                scan: Some(scan),
                error: None,
                elapsed_ms,
            },
            Err(ScanError::Refused(r)) => ScanOutput {
                file,
                ok: false,
                scan: None,
                error: Some(ErrorBody {
                    code: r.code().to_owned(),
                    message: r.message().to_owned(),
                }),
                elapsed_ms,
            },
            Err(ScanError::Recognizer(_)) => ScanOutput {
                elapsed_ms,
                file,
                ..Self::unavailable()
            },
        }
    }

    /// The answer when the reader itself failed (the model did not load or run).
    pub fn unavailable() -> Self {
        ScanOutput {
            file: None,
            ok: false,
            scan: None,
            error: Some(ErrorBody {
                code: READER_FAILED.to_owned(),
                message: "Pembaca KTP gagal; coba lagi atau isi data secara manual. / The KTP reader failed; try again or type the fields in.".to_owned(),
            }),
            elapsed_ms: 0.0,
        }
    }
}

/// A readable summary of one output: the file, then each field with its confidence and the
/// warnings, or the refusal.
pub fn summary(out: &ScanOutput) -> String {
    let mut s = format!(
        "{} ({:.1} ms)\n",
        out.file.as_deref().unwrap_or("-"),
        out.elapsed_ms
    );
    match (&out.scan, &out.error) {
        (Some(scan), _) => {
            for (k, f) in scan.reading.fields.pairs() {
                s.push_str(&format!("  {k:<15} {:<40} {:.3}\n", f.value, f.confidence));
            }
            let w: Vec<String> = scan.reading.warnings.iter().map(|w| w.code()).collect();
            s.push_str(&format!(
                "  peringatan / warnings: {}",
                if w.is_empty() {
                    "-".to_owned()
                } else {
                    w.join(", ")
                }
            ));
        }
        (None, Some(e)) => s.push_str(&format!("  ditolak / refused: {} - {}", e.code, e.message)),
        (None, None) => {}
    }
    s
}

/// The error code of a read that failed through no fault of the photo.
pub const READER_FAILED: &str = "reader_failed";
