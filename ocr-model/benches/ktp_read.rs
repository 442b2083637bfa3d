//! Benchmark: the KTP reader against Tesseract 5 on the same held-out photos, one thread each.
//!
//! ```text
//! cargo bench -p ocr-model --bench ktp_read -- [--cards 100] [--seed 2]
//! ```
//! Renders `--cards` held-out cards per tier (unseen fonts and seed) as JPEG files, then:
//! - reads them with the shipped reader in a child process (one thread; model loaded once, before
//!   the clock), reporting per-card latency (median, p95) and the child's peak resident memory;
//! - runs Tesseract 5 (`tesseract-ocr` + `tesseract-ocr-ind`) with the usual KTP recipe: grey,
//!   upscale to 1500 px wide, Otsu binarisation, `--psm 6 -l ind`, then regular expressions for the
//!   NIK (16 digits after the usual letter-for-digit repairs) and the name (the text after "Nama").
//!   One process per image, as pytesseract does, held to one thread (`OMP_THREAD_LIMIT=1`); its time
//!   includes the preprocessing;
//! - prints NIK and name exact match per tier for both, and the speed ratio.
//!
//! Without Tesseract installed it reports the reader alone and says so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ocr_model::reader::KtpReader;
use ocr_model::synth::{FontSet, Renderer, Split, Tier, fonts};

struct Card {
    tier: Tier,
    path: PathBuf,
    nik: String,
    name: String,
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Child mode: read every file named on stdin's list, one thread, print one line per file
/// (`ms<TAB>nik<TAB>name`) and a final `peak_mib`.
fn child(list: &Path) {
    let reader = KtpReader::shipped().expect("shipped model");
    let files = std::fs::read_to_string(list).expect("list");
    for f in files.lines() {
        let bytes = std::fs::read(f).expect("image");
        let t = Instant::now();
        let r = reader.read_bytes(&bytes);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let (nik, name) = match r {
            Ok(s) => (s.reading.fields.nik.value, s.reading.fields.name.value),
            Err(_) => (String::new(), String::new()),
        };
        println!("{ms:.3}\t{nik}\t{name}");
    }
    println!("peak_mib\t{:.1}", peak_rss_mib());
}

/// The usual Tesseract KTP recipe; returns (nik, name) and the wall time in ms.
fn tesseract(path: &Path, tmp: &Path) -> Option<(String, String, f64)> {
    let t = Instant::now();
    let img = image::open(path).ok()?.to_luma8();
    let scale = 1500.0 / img.width() as f32;
    let img = image::imageops::resize(
        &img,
        1500,
        (img.height() as f32 * scale) as u32,
        image::imageops::FilterType::Triangle,
    );
    let mut hist = [0u64; 256];
    for p in img.as_raw() {
        hist[*p as usize] += 1;
    }
    let t_otsu = otsu(&hist);
    let bin = image::GrayImage::from_fn(img.width(), img.height(), |x, y| {
        image::Luma([if img.get_pixel(x, y).0[0] > t_otsu {
            255
        } else {
            0
        }])
    });
    let pre = tmp.join("tess-input.png");
    bin.save(&pre).ok()?;
    let out = Command::new("tesseract")
        .arg(&pre)
        .arg("stdout")
        .args(["-l", "ind", "--psm", "6"])
        .env("OMP_THREAD_LIMIT", "1")
        .output()
        .ok()?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let text = String::from_utf8_lossy(&out.stdout).to_uppercase();
    Some((parse_nik(&text), parse_name(&text), ms))
}

fn otsu(hist: &[u64; 256]) -> u8 {
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w0, mut s0, mut best, mut t) = (0.0, 0.0, 0.0, 128u8);
    for (i, &c) in hist.iter().enumerate() {
        w0 += c as f64;
        s0 += i as f64 * c as f64;
        let w1 = total as f64 - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let d = s0 / w0 - (sum_all - s0) / w1;
        let b = w0 * w1 * d * d;
        if b > best {
            best = b;
            t = i as u8;
        }
    }
    t
}

/// The NIK: the first run of 16 digits after the usual repairs (O->0, I/L->1, S->5, B->8...).
fn parse_nik(text: &str) -> String {
    for line in text.lines() {
        let fixed: String = line
            .chars()
            .map(|c| match c {
                'O' | 'D' | 'Q' => '0',
                'I' | 'L' | '|' | '!' => '1',
                'Z' => '2',
                'S' => '5',
                'B' => '8',
                'G' => '6',
                'T' => '7',
                other => other,
            })
            .filter(|c| !c.is_whitespace())
            .collect();
        let digits: Vec<char> = fixed.chars().collect();
        let mut run = String::new();
        for c in digits {
            if c.is_ascii_digit() {
                run.push(c);
                if run.len() == 16 {
                    return run;
                }
            } else {
                run.clear();
            }
        }
    }
    String::new()
}

/// The name: what follows "NAMA" on its line, without the colon.
fn parse_name(text: &str) -> String {
    for line in text.lines() {
        if let Some(i) = line.find("NAMA") {
            let rest = &line[i + 4..];
            let rest = rest.trim_start_matches([' ', ':', ';', '.', '-']);
            let clean: String = rest
                .chars()
                .filter(|c| {
                    c.is_ascii_alphabetic() || *c == ' ' || *c == '\'' || *c == '.' || *c == ','
                })
                .collect();
            return clean.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }
    String::new()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(Path::new(&args[i + 1]));
        return;
    }
    let cards = arg("--cards", 100);
    let seed = arg("--seed", 2);
    let dir = std::env::temp_dir().join(format!("ktp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut all = Vec::new();
    for tier in [Tier::Scan, Tier::Photo, Tier::Hard] {
        let fonts = FontSet::load(&fonts::default_font_dir(), Split::Heldout).expect("fonts");
        let r = Renderer::new(fonts, tier, seed);
        for i in 0..cards {
            let s = r.render(i).expect("render");
            let (bytes, ext) = s.file_bytes().expect("bytes");
            let path = dir.join(format!("{tier:?}-{i:04}.{ext}"));
            std::fs::write(&path, bytes).expect("write");
            all.push(Card {
                tier,
                path,
                nik: s.label.fields.nik.clone(),
                name: s.label.fields.name.clone(),
            });
        }
    }
    let list = dir.join("files.txt");
    let names: Vec<String> = all.iter().map(|c| c.path.display().to_string()).collect();
    std::fs::write(&list, names.join("\n")).expect("list");
    let out = Command::new(std::env::current_exe().expect("exe"))
        .arg("--child")
        .arg(&list)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("child");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut ours: Vec<(f64, String, String)> = Vec::new();
    let mut peak = 0.0;
    for line in text.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        if parts[0] == "peak_mib" {
            peak = parts[1].parse().unwrap_or(0.0);
        } else if parts.len() == 3 {
            ours.push((
                parts[0].parse().unwrap_or(0.0),
                parts[1].into(),
                parts[2].into(),
            ));
        }
    }
    assert_eq!(
        ours.len(),
        all.len(),
        "child output: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let have_tesseract = Command::new("tesseract")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut theirs: Vec<Option<(String, String, f64)>> = Vec::new();
    if have_tesseract {
        for c in &all {
            theirs.push(tesseract(&c.path, &dir));
        }
    } else {
        println!(
            "Tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-ind): reader only."
        );
    }
    println!(
        "| tier | reader NIK exact | reader name exact | reader median ms | reader p95 ms | tesseract NIK exact | tesseract name exact | tesseract median ms | speed ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut all_ours = Vec::new();
    let mut all_theirs = Vec::new();
    for tier in [Tier::Scan, Tier::Photo, Tier::Hard] {
        let idx: Vec<usize> = (0..all.len()).filter(|&i| all[i].tier == tier).collect();
        let n = idx.len() as f64;
        let mut ms: Vec<f64> = idx.iter().map(|&i| ours[i].0).collect();
        ms.sort_by(f64::total_cmp);
        all_ours.extend(ms.iter().copied());
        let nik_ok = idx.iter().filter(|&&i| ours[i].1 == all[i].nik).count() as f64 / n;
        let name_ok = idx.iter().filter(|&&i| ours[i].2 == all[i].name).count() as f64 / n;
        let (t_nik, t_name, t_med) = if have_tesseract {
            let mut tm: Vec<f64> = idx
                .iter()
                .filter_map(|&i| theirs[i].as_ref().map(|t| t.2))
                .collect();
            tm.sort_by(f64::total_cmp);
            all_theirs.extend(tm.iter().copied());
            let nik = idx
                .iter()
                .filter(|&&i| theirs[i].as_ref().is_some_and(|t| t.0 == all[i].nik))
                .count() as f64
                / n;
            let name = idx
                .iter()
                .filter(|&&i| theirs[i].as_ref().is_some_and(|t| t.1 == all[i].name))
                .count() as f64
                / n;
            (nik, name, pct(&tm, 0.5))
        } else {
            (f64::NAN, f64::NAN, f64::NAN)
        };
        println!(
            "| {tier:?} | {:.1} % | {:.1} % | {:.1} | {:.1} | {:.1} % | {:.1} % | {:.0} | {:.1}x |",
            100.0 * nik_ok,
            100.0 * name_ok,
            pct(&ms, 0.5),
            pct(&ms, 0.95),
            100.0 * t_nik,
            100.0 * t_name,
            t_med,
            t_med / pct(&ms, 0.5)
        );
    }
    all_ours.sort_by(f64::total_cmp);
    all_theirs.sort_by(f64::total_cmp);
    println!(
        "all tiers: reader median {:.1} ms, p95 {:.1} ms, peak RSS {peak:.1} MiB; tesseract median {:.0} ms; ratio {:.1}x ({} cards per tier)",
        pct(&all_ours, 0.5),
        pct(&all_ours, 0.95),
        pct(&all_theirs, 0.5),
        pct(&all_theirs, 0.5) / pct(&all_ours, 0.5),
        cards
    );
    let _ = std::fs::remove_dir_all(&dir);
}
