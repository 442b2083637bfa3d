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
        let plain = median_ms(|| plan.run(tvec!(input.clone().into())).map(drop))?;
        let mut state = tract_onnx::tract_core::plan::SimpleState::new(&plan)?;
        let reused = median_ms(|| state.run(tvec!(input.clone().into())).map(drop))?;
        println!(
            "width {w:3}: median {:.3} ms per line, {:.3} with a reused state (plan built in {load:.1} ms)",
            plain, reused
        );
    }
    Ok(())
}

/// The median time of 60 runs of `run`, in milliseconds.
fn median_ms(mut run: impl FnMut() -> TractResult<()>) -> TractResult<f64> {
    let mut times = Vec::with_capacity(60);
    for _ in 0..60 {
        let t = std::time::Instant::now();
        run()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
