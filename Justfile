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

# Rebuild the queue view and patient search from the stored documents
rebuild DATA="clinic-edge-data":
    cargo run --release -p clinic-node -- --data-dir {{DATA}} rebuild-projections

# Render synthetic KTP cards (see ocr-model/README or `render-ktp --help`)
render-ktp *ARGS:
    cargo run --release -p ocr-model --bin render-ktp -- {{ARGS}}

# Fuzz the document loader and the request parsing for SECONDS each (needs nightly and `cargo install cargo-fuzz`)
fuzz SECONDS="60":
    cd crdt-schema/fuzz && cargo +nightly fuzz run document_bytes -- -max_total_time={{SECONDS}}
    cd crdt-schema/fuzz && cargo +nightly fuzz run patient_input -- -max_total_time={{SECONDS}}

# Train the KTP line recogniser and export its ONNX models (about 100 minutes; SMOKE=1 for a 10-minute check)
train-ocr:
    bash ocr-model/training/train.sh
