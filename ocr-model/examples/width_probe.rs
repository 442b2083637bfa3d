//! Probe: the time of one tract run of the shipped line model at input widths from 32 to 480 in
//! steps of 32 (the graph is convolutional along the width, so any multiple of the stride runs).
//! Run: `cargo run --release -p ocr-model --example width_probe`.

use tract_onnx::prelude::*;

fn main() -> TractResult<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/model/ktp-line-w480.onnx");
    let graph = tract_onnx::onnx().model_for_path(path)?;
    for w in (16usize..=480).step_by(16) {
        let t0 = std::time::Instant::now();
        let plan = graph
            .clone()
            .with_input_fact(0, f32::fact([1, 1, 32, w]).into())?
            .into_optimized()?
            .into_runnable()?;
        let load = t0.elapsed().as_secs_f64() * 1e3;
        let input: Tensor =
            tract_ndarray::Array4::<f32>::from_shape_fn((1, 1, 32, w), |(_, _, y, x)| {
                ((y * 3 + x) % 11) as f32 / 11.0
            })
            .into();
        for _ in 0..3 {
            plan.run(tvec!(input.clone().into()))?;
        }
        let reps = 60;
        let mut times = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t = std::time::Instant::now();
            plan.run(tvec!(input.clone().into()))?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let mut state = tract_onnx::tract_core::plan::SimpleState::new(&plan)?;
        let mut reused = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t = std::time::Instant::now();
            state.run(tvec!(input.clone().into()))?;
            reused.push(t.elapsed().as_secs_f64() * 1e3);
        }
        reused.sort_by(f64::total_cmp);
        println!(
            "width {w:3}: median {:.3} ms per line, {:.3} with a reused state (plan built in {load:.1} ms)",
            times[reps / 2],
            reused[reps / 2]
        );
    }
    Ok(())
}
