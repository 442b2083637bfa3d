//! Probe: the time of one tract run of a line model at input widths from 16 to 480 in steps of
//! 16 (the graph is convolutional along the width, so any multiple of the stride runs).
//! Run: `cargo run --release -p ocr-model --example width_probe` (the shipped model), or with
//! `-- A.onnx B.onnx ...` to compare other exports of the network (for example candidate
//! architectures with random weights) round-robin in one run, at 128, 256 and 384 columns.

use tract_onnx::prelude::*;

fn main() -> TractResult<()> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/model/ktp-line-w480.onnx");
        return sweep(path);
    }
    compare(&paths)
}

type Plan = Arc<TypedSimplePlan>;

/// `path`'s graph planned for a `[1, 1, 32, w]` input, and the time the planning took (ms).
fn plan_at(path: &str, w: usize) -> TractResult<(Plan, f64)> {
    let t0 = std::time::Instant::now();
    let plan = tract_onnx::onnx()
        .model_for_path(path)?
        .with_input_fact(0, f32::fact([1, 1, 32, w]).into())?
        .into_optimized()?
        .into_runnable()?;
    Ok((plan, t0.elapsed().as_secs_f64() * 1e3))
}

fn input(w: usize) -> Tensor {
    tract_ndarray::Array4::<f32>::from_shape_fn((1, 1, 32, w), |(_, _, y, x)| {
        ((y * 3 + x) % 11) as f32 / 11.0
    })
    .into()
}

fn sweep(path: &str) -> TractResult<()> {
    for w in (16usize..=480).step_by(16) {
        let (plan, load) = plan_at(path, w)?;
        let input = input(w);
        for _ in 0..3 {
            plan.run(tvec!(input.clone().into()))?;
        }
        let plain = median_ms(60, || plan.run(tvec!(input.clone().into())).map(drop))?;
        let mut state = tract_onnx::tract_core::plan::SimpleState::new(&plan)?;
        let reused = median_ms(60, || state.run(tvec!(input.clone().into())).map(drop))?;
        println!(
            "width {w:3}: median {:.3} ms per line, {:.3} with a reused state (plan built in {load:.1} ms)",
            plain, reused
        );
    }
    Ok(())
}

/// Every model at 128, 256 and 384 columns, in 10 rounds that visit each model in turn (so a
/// noisy moment of the machine falls on all of them), then the median of each over all rounds.
fn compare(paths: &[String]) -> TractResult<()> {
    const WIDTHS: [usize; 3] = [128, 256, 384];
    let mut plans = Vec::new();
    for path in paths {
        for w in WIDTHS {
            plans.push((plan_at(path, w)?.0, input(w)));
        }
    }
    let mut times = vec![Vec::new(); plans.len()];
    for _ in 0..10 {
        for ((plan, input), t) in plans.iter().zip(&mut times) {
            t.push(median_ms(20, || {
                plan.run(tvec!(input.clone().into())).map(drop)
            })?);
        }
    }
    println!("model: median ms per line at {WIDTHS:?} columns");
    for (path, t) in paths.iter().zip(times.chunks_mut(WIDTHS.len())) {
        let medians: Vec<String> = t
            .iter_mut()
            .map(|v| {
                v.sort_by(f64::total_cmp);
                format!("{:.3}", v[v.len() / 2])
            })
            .collect();
        println!("{path}: {}", medians.join("  "));
    }
    Ok(())
}

/// The median time of `n` runs of `run`, in milliseconds.
fn median_ms(n: usize, mut run: impl FnMut() -> TractResult<()>) -> TractResult<f64> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = std::time::Instant::now();
        run()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
