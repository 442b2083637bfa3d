"""Owns the ONNX export: batch norm folded into convolutions, one fixed-shape graph per width bucket,
charset.txt and model.json beside them, and the check that onnxruntime and tract agree with JAX.

The graph is written by hand with onnx.helper from the same layer list as model.py, using only
Conv, Relu, MaxPool, Add, Squeeze, Transpose and LogSoftmax (opset 13), all on tract's well-trodden path.

    python export_onnx.py --ckpt target-train/run/ckpt.npz --out ocr-model/model
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import lines
import model as M

OPSET = 13
INPUT = "image"
OUTPUT = "logprobs"


def save_checkpoint(path, params, state, cfg):
    tree = dict(
        params={k: {n: np.asarray(a) for n, a in v.items()} for k, v in params.items()},
        state={k: {n: np.asarray(a) for n, a in v.items()} for k, v in state.items()},
        cfg=cfg,
    )
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(tree, f)
    os.replace(tmp, path)


def load_checkpoint(path):
    with open(path, "rb") as f:
        tree = pickle.load(f)
    return tree["params"], tree["state"], tree["cfg"]


def fold(params, state, spec):
    """Conv weights and biases with batch norm folded in: {name: (w, b)} as float32 numpy."""
    out = {}
    for l in spec:
        if l["kind"] == "conv":
            p, s = params[l["name"]], state[l["name"]]
            scale = np.asarray(p["gamma"]) / np.sqrt(np.asarray(s["var"]) + M.BN_EPS)
            w = np.asarray(p["w"]) * scale[:, None, None, None]
            b = np.asarray(p["beta"]) - np.asarray(s["mean"]) * scale
            out[l["name"]] = (w.astype(np.float32), b.astype(np.float32))
        elif l["kind"] == "head":
            p = params[l["name"]]
            out[l["name"]] = (np.asarray(p["w"], np.float32), np.asarray(p["b"], np.float32))
    return out


def unfold(onnx_path, params, state, spec):
    """Parameters and batch-norm state that compute what an exported file computes: each conv's
    folded weights, its bias as the norm's shift, unit scale over statistics of mean 0 and variance
    1 - eps (so the norm is the identity until trained, and folds back to the same file).

    `spec` may be wider than the file (more channels in any layer): the file's weights fill each
    layer's first channels, the extra channels keep `params`' fresh weights on what they read, and
    what the file's channels read from the extra ones starts at zero, so the wider network computes
    what the file computes until it is trained (the extra channels then learn from there)."""
    import jax.numpy as jnp

    inits = {t.name: jnp.asarray(numpy_helper.to_array(t)) for t in onnx.load(onnx_path).graph.initializer}
    params, state = dict(params), dict(state)
    for l in spec:
        name = l["name"]
        if l["kind"] not in ("conv", "head"):
            continue
        w, b = inits[f"{name}.w"], inits[f"{name}.b"]
        fresh = params[name]["w"]
        if fresh.shape[0] < w.shape[0] or fresh.shape[1] < w.shape[1] or fresh.shape[2:] != w.shape[2:]:
            raise ValueError(f"{name}: {onnx_path} holds {w.shape}, wider than the network's {fresh.shape}")
        cout, cin = w.shape[:2]
        w = fresh.at[:cout].set(0.0).at[:cout, :cin].set(w)
        b = jnp.zeros((fresh.shape[0],), jnp.float32).at[:cout].set(b)
        if l["kind"] == "head":
            params[name] = dict(w=w, b=b)
        else:
            params[name] = dict(w=w, gamma=jnp.ones_like(b), beta=b)
            state[name] = dict(mean=jnp.zeros_like(b), var=jnp.full_like(b, 1.0 - M.BN_EPS))
    return params, state


def build(folded, spec, width, batch=1, dynamic=False):
    """ONNX model for input [batch, 1, 32, width]; with dynamic=True, batch and width are symbols N and W."""
    nodes, inits = [], []
    x = INPUT
    n_pool = 0
    for i, l in enumerate(spec):
        kind = l["kind"]
        if kind == "pool":
            n_pool += 1
            y = f"pool{n_pool}"
            nodes.append(helper.make_node("MaxPool", [x], [y], kernel_shape=list(l["k"]), strides=list(l["k"])))
            x = y
            continue
        name = l["name"]
        w, b = folded[name]
        inits += [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(b, f"{name}.b")]
        pad = l.get("pad", (0, 0))
        dil = l.get("dil", (1, 1))
        conv = f"{name}.conv"
        nodes.append(
            helper.make_node(
                "Conv", [x, f"{name}.w", f"{name}.b"], [conv], kernel_shape=list(l["k"]),
                pads=[pad[0], pad[1], pad[0], pad[1]], dilations=list(dil), strides=list(l.get("stride", (1, 1))),
            )
        )
        if kind == "head":
            x = conv
            continue
        relu = f"{name}.relu"
        nodes.append(helper.make_node("Relu", [conv], [relu]))
        if l.get("res"):
            add = f"{name}.add"
            nodes.append(helper.make_node("Add", [x, relu], [add]))
            x = add
        else:
            x = relu
    inits.append(numpy_helper.from_array(np.array([2], np.int64), "squeeze_axes"))
    nodes.append(helper.make_node("Squeeze", [x, "squeeze_axes"], ["seq_nct"]))
    nodes.append(helper.make_node("Transpose", ["seq_nct"], ["seq_ntc"], perm=[0, 2, 1]))
    nodes.append(helper.make_node("LogSoftmax", ["seq_ntc"], [OUTPUT], axis=-1))
    if dynamic:
        in_shape, out_shape = ["N", 1, lines.HEIGHT, "W"], ["N", "T", lines.NUM_CLASSES]
    else:
        in_shape = [batch, 1, lines.HEIGHT, width]
        out_shape = [batch, width // lines.STRIDE, lines.NUM_CLASSES]
    graph = helper.make_graph(
        nodes, "ktp_line_ctc",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, out_shape)],
        initializer=inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="clinic-edge-train")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def tract_runnable(path):
    import tract

    return tract.onnx().load(path).into_model().into_runnable()


def export(ckpt, out_dir, buckets, verify_samples=8, seed=0, smoke=False):
    params, state, cfg = load_checkpoint(ckpt)
    spec = M.layers(tuple(cfg["channels"]), cfg["hidden"])
    folded = fold(params, state, spec)
    os.makedirs(out_dir, exist_ok=True)
    prefix = "smoke-" if smoke else ""
    files = {}
    for w in buckets:
        name = f"{prefix}ktp-line-w{w}.onnx"
        onnx.save(build(folded, spec, w), os.path.join(out_dir, name))
        files[w] = name
    with open(os.path.join(out_dir, "charset.txt"), "w") as f:
        # One character per line, in class order starting at class 1; class 0 (blank) is not listed.
        for c in lines.CHARSET:
            f.write(c + "\n")
    meta = {
        "format": "ktp-line-ctc/1",
        "smoke": smoke,
        "models": [
            {"file": files[w], "input": {"name": INPUT, "shape": [1, 1, lines.HEIGHT, w], "dtype": "float32"},
             "output": {"name": OUTPUT, "shape": [1, w // lines.STRIDE, lines.NUM_CLASSES], "dtype": "float32",
                        "kind": "log_softmax"}}
            for w in buckets
        ],
        "height": lines.HEIGHT,
        "buckets": list(buckets),
        "stride": lines.STRIDE,
        "layout": "NCHW, grayscale, line left-aligned, right padding repeats the last column",
        "normalisation": {
            "scale": "v = pixel / 255",
            "standardise": "x = (v - mean(v)) / max(std(v), std_floor), mean and population std over the "
                           "unpadded crop after any squeeze",
            "std_floor": lines.STD_FLOOR,
            "wider_than_last_bucket": "resize (bilinear) to the last bucket's width",
        },
        "charset_file": "charset.txt",
        "charset": lines.CHARSET,
        "blank_index": lines.BLANK,
        "num_classes": lines.NUM_CLASSES,
        "class_of_char": "1 + position in charset.txt (one character per line; the first line is a space)",
        "decode": "greedy: argmax per timestep, merge repeats, drop blank",
        "architecture": {"channels": list(cfg["channels"]), "hidden": cfg["hidden"],
                         "params": M.count_params(params)},
        "training": cfg.get("training", {}),
    }
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    report = verify(out_dir, files, params, state, spec, verify_samples, seed)
    sizes = {files[w]: os.path.getsize(os.path.join(out_dir, files[w])) for w in buckets}
    return meta, report, sizes


def verify(out_dir, files, params, state, spec, n, seed):
    """Same random-ish inputs through JAX, onnxruntime and tract: max |difference| of log-probabilities."""
    import jax.numpy as jnp
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    report = {}
    for w, name in files.items():
        path = os.path.join(out_dir, name)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        tr = tract_runnable(path)
        worst_ort = worst_tract = 0.0
        for _ in range(n):
            # Stripes and blobs rather than pure noise, so activations are in a realistic range.
            x = rng.normal(size=(1, 1, lines.HEIGHT, w)).astype(np.float32)
            x += np.sin(np.arange(w) / rng.uniform(2, 9))[None, None, None, :].astype(np.float32)
            ref, _ = M.apply(params, state, jnp.asarray(x), spec, train=False)
            ref = np.asarray(ref)
            got_ort = sess.run([OUTPUT], {INPUT: x})[0]
            got_tract = tr.run([x])[0].to_numpy()
            assert got_ort.shape == ref.shape == got_tract.shape, (got_ort.shape, ref.shape, got_tract.shape)
            worst_ort = max(worst_ort, float(np.abs(got_ort - ref).max()))
            worst_tract = max(worst_tract, float(np.abs(got_tract - ref).max()))
        x = np.zeros((1, 1, lines.HEIGHT, w), np.float32)
        for _ in range(5):
            tr.run([x])
        t0 = time.perf_counter()
        reps = 30
        for _ in range(reps):
            tr.run([x])
        ms = (time.perf_counter() - t0) / reps * 1000
        report[name] = dict(max_abs_diff_onnxruntime=worst_ort, max_abs_diff_tract=worst_tract, tract_ms=ms)
        if worst_ort > 1e-3 or worst_tract > 1e-3:
            raise SystemExit(f"{name}: exported model disagrees with JAX: {report[name]}")
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--buckets", default=",".join(map(str, lines.DEFAULT_BUCKETS)))
    ap.add_argument("--smoke", action="store_true", help="name the files smoke-*.onnx")
    a = ap.parse_args()
    buckets = tuple(int(b) for b in a.buckets.split(","))
    meta, report, sizes = export(a.ckpt, a.out, buckets, smoke=a.smoke)
    print(json.dumps(dict(report=report, sizes=sizes), indent=2))


if __name__ == "__main__":
    main()
