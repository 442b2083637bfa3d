//! `clinic-node ocr`: the real binary reads KTP photos given on the command line, one JSON object per
//! image and line, with the contract's 17 field keys, and refuses unreadable files plainly.

use ocr_model::synth::{FontSet, Renderer, Split, Tier, fonts};

/// The contract's 17 field keys (pinned by `ocr-model`'s own tests).
const KEYS: [&str; 17] = ocr_model::fields::FIELD_KEYS;

#[test]
fn ocr_prints_one_json_object_per_image() {
    let dir = tempfile::tempdir().unwrap();
    let fonts = FontSet::load(&fonts::default_font_dir(), Split::Heldout).unwrap();
    let renderer = Renderer::new(fonts, Tier::Scan, 41);
    let mut files = Vec::new();
    let mut truth = Vec::new();
    for i in 0..2 {
        let s = renderer.render(i).unwrap();
        let (bytes, ext) = s.file_bytes().unwrap();
        let path = dir.path().join(format!("ktp-{i}.{ext}"));
        std::fs::write(&path, bytes).unwrap();
        files.push(path);
        truth.push(s.label.fields.nik.clone());
    }
    let junk = dir.path().join("not-a-photo.jpg");
    std::fs::write(&junk, b"plain text").unwrap();
    let missing = dir.path().join("missing.png");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clinic-node"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["ocr", "--json"])
        .args(&files)
        .arg(&junk)
        .arg(&missing)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (i, v) in lines[..2].iter().enumerate() {
        assert_eq!(v["file"], files[i].display().to_string());
        assert_eq!(v["ok"], true, "{v}");
        let fields = v["fields"].as_object().unwrap();
        let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
        let mut want = KEYS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want, "exactly the contract's keys");
        for k in KEYS {
            let c = fields[k]["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&c), "{k}: {c}");
        }
        assert_eq!(fields["nik"]["value"], truth[i].as_str(), "{v}");
        assert!(v["warnings"].is_array());
        assert!(v["elapsed_ms"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(lines[2]["ok"], false);
    assert_eq!(lines[2]["error"]["code"], "not_an_image");
    assert_eq!(lines[3]["ok"], false);
    assert_eq!(lines[3]["error"]["code"], "unreadable_file");
    // The data directory is not created by reading photos: nothing is stored.
    assert!(!dir.path().join("data").exists());
}
