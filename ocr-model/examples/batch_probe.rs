//! Probe: the time per line of one tract run over N lines of a width bucket, against N runs of one
//! line, with the shipped model. Run: `cargo run --release -p ocr-model --example batch_probe`.
//! (Measured 2026-12-01: batches cost more per line, so the reader runs one line at a time.)

use tract_onnx::prelude::*;

fn main() -> TractResult<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/model");
    for w in [256usize, 384] {
        for n in [1usize, 4, 8] {
            let plan = tract_onnx::onnx()
                .model_for_path(format!("{dir}/ktp-line-w{w}.onnx"))?
                .with_input_fact(0, f32::fact([n, 1, 32, w]).into())?
                .into_optimized()?
                .into_runnable()?;
            let input: Tensor =
                tract_ndarray::Array4::<f32>::from_shape_fn((n, 1, 32, w), |(a, _, y, x)| {
                    ((a * 7 + y * 3 + x) % 11) as f32 / 11.0
                })
                .into();
            for _ in 0..3 {
                plan.run(tvec!(input.clone().into()))?;
            }
            let reps = 40;
            let t = std::time::Instant::now();
            for _ in 0..reps {
                plan.run(tvec!(input.clone().into()))?;
            }
            let per_line = t.elapsed().as_secs_f64() * 1e3 / (reps * n) as f64;
            println!("width {w}, batch {n}: {per_line:.3} ms per line");
        }
    }
    Ok(())
}
