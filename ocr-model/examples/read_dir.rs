//! Reads every image of a labelled directory and scores the NIK and the name: for photos that no
//! renderer tier makes (real photos labelled by hand, close-ups cut by a script).
//!
//! ```text
//! cargo run --release -p ocr-model --example read_dir -- DIR
//! ```
//! DIR holds the images and a `labels.jsonl` with one `{"file": ..., "fields": {"nik": ...,
//! "name": ...}}` per line (what `render-ktp` writes; other keys are ignored). Prints one line per
//! image (read, refused and why, or what was misread) and the totals.

use std::path::PathBuf;

use ocr_model::reader::KtpReader;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: read_dir DIR"));
    let reader = KtpReader::shipped().expect("model");
    let labels = std::fs::read_to_string(dir.join("labels.jsonl")).expect("labels.jsonl");
    let (mut n, mut nik_ok, mut name_ok, mut refused, mut confident_wrong) = (0, 0, 0, 0, 0);
    let mut times = Vec::new();
    for line in labels.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON object per line");
        let file = v["file"].as_str().expect("file");
        let (nik, name) = (
            v["fields"]["nik"].as_str().unwrap_or(""),
            v["fields"]["name"].as_str().unwrap_or(""),
        );
        let bytes = std::fs::read(dir.join(file)).expect("image");
        n += 1;
        let t0 = std::time::Instant::now();
        let scan = reader.read_bytes(&bytes);
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        match scan {
            Err(e) => {
                refused += 1;
                println!("{file}: refused ({e})");
            }
            Ok(scan) => {
                let f = &scan.reading.fields;
                let warnings: Vec<String> =
                    scan.reading.warnings.iter().map(|w| w.code()).collect();
                nik_ok += usize::from(f.nik.value == nik);
                name_ok += usize::from(f.name.value == name);
                let confident = f.nik.confidence >= 0.9 && warnings.is_empty();
                confident_wrong += usize::from(confident && f.nik.value != nik);
                let verdict = |got: &str, truth: &str| {
                    if got == truth {
                        "ok".to_string()
                    } else {
                        format!("WRONG {got:?} for {truth:?}")
                    }
                };
                println!(
                    "{file}: nik {} ({:.2}), name {} ({:.2}){}",
                    verdict(&f.nik.value, nik),
                    f.nik.confidence,
                    verdict(&f.name.value, name),
                    f.name.confidence,
                    if warnings.is_empty() {
                        String::new()
                    } else {
                        format!(", warnings {warnings:?}")
                    }
                );
            }
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{n} images: NIK exact {nik_ok}, name exact {name_ok}, refused {refused}, confident wrong NIKs {confident_wrong}; median {:.1} ms",
        times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
    );
}
