# Everyday commands for Clinic Edge. Convenience only: the README's two commands need no `just`.

# Run the node with its data in ./clinic-edge-data (http://127.0.0.1:8080)
run *ARGS:
    cargo run --release -p clinic-node -- {{ARGS}}

# A throwaway node with a known admin password, for trying the API
demo:
    cargo run --release -p clinic-node -- --data-dir target/demo-data --admin-password demo-admin-123

# Everything CI runs: format check, lints, all tests
test:
    bash .ci/run

# Benchmarks (results go to BENCHMARKS.md by hand, with the machine and date)
bench:
    cargo build --release -p clinic-node
    cargo bench -p clinic-node --bench issue_ticket
    cargo bench -p clinic-node --bench startup
    cargo bench -p ocr-model --bench ktp_read

# The KTP reader against Tesseract 5 on the same held-out photos (apt-get install tesseract-ocr tesseract-ocr-ind)
bench-ocr CARDS="100":
    cargo bench -p ocr-model --bench ktp_read -- --cards {{CARDS}}

# Read KTP photos with the shipped model, one JSON object per image
ocr +IMAGES:
    cargo run --release -p clinic-node -- ocr --json {{IMAGES}}

# Score the reader on freshly rendered held-out cards, per tier
eval-ocr COUNT="300":
    cargo run --release -p ocr-model --bin ktp-eval -- --count {{COUNT}}

# Rebuild the queue view and patient search from the stored documents
rebuild DATA="clinic-edge-data":
    cargo run --release -p clinic-node -- --data-dir {{DATA}} rebuild-projections

# Render synthetic KTP cards (see ocr-model/README or `render-ktp --help`)
render-ktp *ARGS:
    cargo run --release -p ocr-model --bin render-ktp -- {{ARGS}}

# Fuzz the document loader, the request parsing and the KTP reader for SECONDS each (`cargo install cargo-fuzz`).
# The machine has only stable Rust: RUSTC_BOOTSTRAP=1 lets cargo-fuzz's flags through, and `-s none` skips
# the sanitizer (which needs nightly's -Zsanitizer). The first build takes ~16 minutes (tract with coverage).
fuzz SECONDS="60":
    cd crdt-schema/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -O --debug-assertions document_bytes -- -max_total_time={{SECONDS}}
    cd crdt-schema/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -O --debug-assertions patient_input -- -max_total_time={{SECONDS}}
    cd ocr-model/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -O --debug-assertions scan_bytes -- -max_total_time={{SECONDS}} -timeout=10 -rss_limit_mb=2048
    cd ocr-model/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -O --debug-assertions scan_pixels -- -max_total_time={{SECONDS}} -timeout=10 -rss_limit_mb=2048 -max_len=4096
    cd ocr-model/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -O --debug-assertions decode_bytes -- -max_total_time={{SECONDS}} -timeout=10 -rss_limit_mb=2048 -max_len=65536

# Train the KTP line recogniser and export its ONNX models (about 100 minutes; SMOKE=1 for a 10-minute check)
train-ocr:
    bash ocr-model/training/train.sh
