"""Owns training: loads rendered line crops, trains the CNN + CTC recogniser with a fixed seed and a
wall-clock budget, checkpoints, then exports ONNX (export_onnx.py) and writes the held-out report
(evaluate.py).

    python train.py --train DIR... --val DIR... --work target-train/run --out ocr-model/model

train.sh is the one command that renders the data and calls this.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", nargs="+", required=True, help="render-ktp --lines output directories")
    ap.add_argument("--val", nargs="+", required=True, help="held-out render directories (--fonts heldout)")
    ap.add_argument("--work", required=True, help="checkpoints, logs, report (not committed)")
    ap.add_argument("--out", required=True, help="where the ONNX files, charset.txt and model.json go")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--budget-min", type=float, default=80.0,
                    help="stop training after this many minutes of wall clock (the schedule is stretched to it)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch-px", type=int, default=32 * 256,
                    help="batch size times bucket width (64 lines of 128, 32 of 256, 21 of 384, 17 of 480)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--buckets", default="128,256,384,480")
    ap.add_argument("--channels", default=None, help="four stage widths, comma-separated (model.DEFAULT_CHANNELS)")
    ap.add_argument("--hidden", type=int, default=None, help="width of the sequence layers (model.DEFAULT_HIDDEN)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training lines (smoke runs)")
    ap.add_argument("--val-limit", type=int, default=2000, help="lines of the held-out set scored after each epoch")
    ap.add_argument("--augment", type=float, default=0.5,
                    help="share of training lines stretched horizontally and gamma-shifted (0 = off)")
    ap.add_argument("--devices", type=int, default=1,
                    help="data-parallel CPU devices, one per core (each batch split between them and rounded "
                         "down to a multiple of their number); the shipped models were trained on 2 (train.sh's DEVICES)")
    ap.add_argument("--keys", default=None,
                    help="train and score on the lines of these field keys only, comma-separated (name)")
    ap.add_argument("--init-from", default=None,
                    help="start from an exported model directory's weights (batch norm is folded there, so it "
                         "stays frozen): the name model is the line model trained further on name lines")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--smoke", action="store_true", help="name the exported files smoke-*.onnx")
    return ap.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    if a.devices > 1:
        # XLA runs these small convolutions on one thread about as fast as on two: one device per core,
        # each computing half of every batch, uses both cores (the batch norm statistics and gradients
        # are still those of the whole batch; lines/s of full runs in README.md).
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + f" --xla_force_host_platform_device_count={a.devices}").strip()
    import jax
    import jax.numpy as jnp
    import optax

    import evaluate
    import export_onnx
    import lines
    import model as M

    os.makedirs(a.work, exist_ok=True)
    log_path = os.path.join(a.work, "train.log")
    logf = open(log_path, "a")

    def log(msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    buckets = tuple(int(b) for b in a.buckets.split(","))
    channels = tuple(int(c) for c in a.channels.split(",")) if a.channels else M.DEFAULT_CHANNELS
    if a.hidden is None:
        a.hidden = M.DEFAULT_HIDDEN
    log(f"args {vars(a)}; jax {jax.__version__} devices {jax.devices()} cpus {os.cpu_count()} "
        f"affinity {len(os.sched_getaffinity(0))}")

    t0 = time.time()
    keys = lines.parse_keys(a.keys)
    train = lines.load_dirs(a.train, buckets, limit=a.limit or None, keys=keys)
    val = lines.load_dirs(a.val, buckets, keys=keys)
    n_train = sum(len(b.texts) for b in train.values())
    log(f"loaded {n_train} training lines {{{', '.join(f'{w}: {len(b.texts)}' for w, b in train.items())}}}, "
        f"{sum(len(b.texts) for b in val.values())} held-out lines in {time.time() - t0:.0f} s")

    spec = M.layers(channels, a.hidden)
    key = jax.random.PRNGKey(a.seed)
    params, state = M.init(key, spec)
    frozen_bn = a.init_from is not None
    if frozen_bn:
        with open(os.path.join(a.init_from, "model.json")) as f:
            first = json.load(f)["models"][0]["file"]  # any width: the weights are the same
        params, state = export_onnx.unfold(os.path.join(a.init_from, first), params, state, spec)
        log(f"weights from {a.init_from} (batch norm frozen)")
    log(f"model: {M.count_params(params)} parameters")

    rng = np.random.default_rng(a.seed)
    ndev = len(jax.devices())

    def epoch_batches():
        """(width, index array) per batch: each bucket shuffled, cut into full batches, batches shuffled."""
        out = []
        for w, b in train.items():
            bs = max(ndev, a.batch_px // w // ndev * ndev)  # splits evenly between the devices
            idx = rng.permutation(len(b.texts))
            for i in range(0, len(idx) - bs + 1, bs):
                out.append((w, idx[i : i + bs]))
        order = rng.permutation(len(out))
        return [out[i] for i in order]

    steps_per_epoch = len(epoch_batches())
    rng = np.random.default_rng(a.seed)  # the count above must not shift the shuffles
    total_steps = max(1, steps_per_epoch * a.epochs)
    budget_s = a.budget_min * 60
    warmup = max(1, min(300, total_steps // 20))

    def lr_at(step, elapsed):
        """Linear warm-up, then cosine decay over whichever runs out first: steps or the time budget."""
        if step < warmup:
            return a.lr * (step + 1) / warmup
        progress = min(1.0, max(step / total_steps, elapsed / budget_s))
        return a.lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * progress)))

    opt = optax.chain(
        optax.clip_by_global_norm(5.0),
        optax.inject_hyperparams(optax.adamw)(learning_rate=a.lr, weight_decay=1e-4),
    )
    opt_state = opt.init(params)

    # Parameters replicated on every device, batches split along their first axis.
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(jax.devices()), ("batch",))
    split = NamedSharding(mesh, PartitionSpec("batch"))
    params, state, opt_state = jax.device_put((params, state, opt_state), NamedSharding(mesh, PartitionSpec()))

    def on_devices(*arrays):
        return tuple(jax.device_put(x, split) for x in arrays)

    def loss_fn(params, state, images, mean, std, labels, label_len):
        x = M.standardise(images, mean, std)
        logprobs, new_state = M.apply(params, state, x, spec, train=not frozen_bn)
        return M.ctc_loss(logprobs, labels, label_len), new_state

    @jax.jit
    def train_step(params, state, opt_state, lr, images, mean, std, labels, label_len):
        (loss, new_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, state, images, mean, std, labels, label_len
        )
        opt_state[1].hyperparams["learning_rate"] = lr
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_state, opt_state, loss

    @jax.jit
    def infer(params, state, images, mean, std):
        logprobs, _ = M.apply(params, state, M.standardise(images, mean, std), spec, train=False)
        return logprobs

    def quick_val(params, state):
        """Greedy CER / exact-line accuracy on a fixed random --val-limit held-out lines (JAX, eval mode)."""
        errs = chars = exact = n = 0
        per_bucket = max(1, a.val_limit // max(1, len(val)))
        for w, b in val.items():
            bs = max(1, a.batch_px // w)
            pick = np.sort(np.random.default_rng(w).permutation(len(b.texts))[:per_bucket])
            for i in range(0, len(pick), bs):
                sl = pick[i : i + bs]
                full = np.concatenate([sl, np.full(bs - len(sl), sl[-1])])  # one shape per bucket: one compile
                lp = np.asarray(infer(params, state, b.images[full], b.mean[full], b.std[full]))
                for j, text in enumerate(b.texts[k] for k in sl):
                    pred, _ = lines.greedy_decode(lp[j])
                    e = lines.edit_distance(pred, text)
                    errs += e
                    chars += len(text)
                    exact += e == 0
                    n += 1
        return errs / max(1, chars), exact / max(1, n), n

    cfg = dict(channels=list(channels), hidden=a.hidden)
    ckpt = os.path.join(a.work, "ckpt.pkl")
    history = []
    step = 0
    start = time.time()
    seen = 0
    stop = False
    for epoch in range(a.epochs):
        ep_start, ep_loss, ep_n, win_loss, win_n, win_lines, win_t = time.time(), 0.0, 0, 0.0, 0, 0, time.time()
        for w, idx in epoch_batches():
            b = train[w]
            lr = np.float32(lr_at(step, time.time() - start))
            images, mean, std = b.images[idx], b.mean[idx], b.std[idx]
            if a.augment > 0:
                images, mean, std = lines.augment(rng, images, b.content[idx], mean, std, a.augment)
            params, state, opt_state, loss = train_step(
                params, state, opt_state, lr, *on_devices(images, mean, std, b.labels[idx], b.label_len[idx])
            )
            step += 1
            seen += len(idx)
            win_lines += len(idx)
            if step % a.log_every == 0:
                lv = float(loss)
                ep_loss += lv
                ep_n += 1
                now = time.time()
                log(f"epoch {epoch + 1} step {step}/{total_steps} loss {lv:.3f} lr {lr:.2e} "
                    f"{win_lines / (now - win_t):.0f} lines/s")
                win_lines, win_t = 0, now
            if time.time() - start > budget_s:
                log(f"time budget of {a.budget_min} min reached at step {step}")
                stop = True
                break
        ep_time = time.time() - ep_start
        cer, acc, n = quick_val(params, state)
        rec = dict(epoch=epoch + 1, step=step, lines_seen=seen, train_loss=ep_loss / max(1, ep_n),
                   epoch_s=round(ep_time, 1), val_cer=cer, val_exact=acc, val_lines=n)
        history.append(rec)
        log(f"epoch {epoch + 1} done in {ep_time:.0f} s: mean logged loss {rec['train_loss']:.3f}, "
            f"held-out CER {cer:.4f}, exact lines {acc:.4f} ({n} lines)")
        cfg["training"] = dict(seed=a.seed, epochs_done=epoch + 1, steps=step, lines_seen=seen,
                               train_lines=n_train, minutes=round((time.time() - start) / 60, 1),
                               train_dirs=[os.path.basename(d) for d in a.train],
                               keys=sorted(keys) if keys else "all", init_from=a.init_from, lr=a.lr)
        export_onnx.save_checkpoint(ckpt, params, state, cfg)
        if stop:
            break
    train_s = time.time() - start
    log(f"trained {step} steps, {seen} lines in {train_s:.0f} s ({seen / train_s:.0f} lines/s)")

    meta, check, sizes = export_onnx.export(ckpt, a.out, buckets, smoke=a.smoke)
    log(f"exported {sizes} ({sum(sizes.values()) / 1e6:.2f} MB); check vs JAX: {check}")
    report = evaluate.evaluate(a.out, a.val, keys)
    summary = dict(history=history, train_seconds=round(train_s), lines_per_s=seen / train_s,
                   export=dict(sizes=sizes, check=check), heldout=report)
    with open(os.path.join(a.work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(a.work, "report.md"), "w") as f:
        f.write(evaluate.markdown(report))
    log("held-out report:\n" + evaluate.markdown(report))


if __name__ == "__main__":
    main()
