"""Owns the recogniser network in plain JAX: parameters, batch-norm state, forward pass, CTC loss.

The layer list in `layers()` is the single description of the architecture; export_onnx.py walks the
same list, so the JAX model and the ONNX graph cannot drift apart.

Input  [N, 1, 32, W] (standardised, see lines.prepare_line), NCHW.
Output [N, W/4, C] log-probabilities, C = len(charset) + 1, class 0 = CTC blank.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lines import NUM_CLASSES

BN_EPS = 1e-5

# Width of each stage: ~0.21 M parameters (0.85 MB of float32 per ONNX file), 28 M multiply-adds
# for a 32 x 256 line. The first shipped widths, (16, 32, 64, 96) and 128 (0.29 M, 41 M), took 20-35 %
# longer in tract 0.23.9 on one core (`cargo run --release -p ocr-model --example width_probe --
# A.onnx B.onnx` compares exports). Strided convolutions instead of max pools: tract runs pools and
# small-channel direct convolutions slowly.
DEFAULT_CHANNELS = (16, 24, 48, 80)
DEFAULT_HIDDEN = 112


def _conv_spec(name, cin, cout, k=(3, 3), stride=(1, 1), pad=None, dil=(1, 1), res=False):
    if pad is None:
        pad = ((k[0] - 1) // 2 * dil[0], (k[1] - 1) // 2 * dil[1])
    return dict(kind="conv", name=name, cin=cin, cout=cout, k=k, stride=stride, pad=pad, dil=dil, res=res)


def layers(channels=DEFAULT_CHANNELS, hidden=DEFAULT_HIDDEN):
    """The network as a list of layer specs (dicts), in order.

    kinds: conv (convolution without bias + batch norm + ReLU; `res` adds the block input) and head
    (1x1 convolution with bias, no norm), then the fixed tail squeeze/transpose/log-softmax.
    Shapes are for an input of 32 x W.
    """
    c1, c2, c3, c4 = channels
    h = hidden
    return [
        _conv_spec("c1", 1, c1, stride=(2, 2)),  # 16 x W/2
        _conv_spec("c2", c1, c2, stride=(2, 2)),  # 8 x W/4
        _conv_spec("c3", c2, c3),  # 8 x W/4
        _conv_spec("c4", c3, c4, stride=(2, 1)),  # 4 x W/4
        _conv_spec("c5", c4, h, k=(2, 1), stride=(2, 1), pad=(0, 0)),  # 2 x W/4
        _conv_spec("c6", h, h, k=(2, 1), pad=(0, 0)),  # 1 x W/4
        # Sequence context along the width: dilated 1-D convolutions with residuals
        # (receptive field ~ 120 input columns, about 7 characters).
        _conv_spec("t1", h, h, k=(1, 3), res=True),
        _conv_spec("t2", h, h, k=(1, 3), dil=(1, 2), res=True),
        _conv_spec("t3", h, h, k=(1, 3), dil=(1, 4), res=True),
        dict(kind="head", name="out", cin=h, cout=NUM_CLASSES, k=(1, 1)),
    ]


def init(key, spec):
    params, state = {}, {}
    for l in spec:
        if l["kind"] not in ("conv", "head"):
            continue
        key, sub = jax.random.split(key)
        kh, kw = l["k"]
        fan_in = l["cin"] * kh * kw
        w = jax.random.normal(sub, (l["cout"], l["cin"], kh, kw), jnp.float32) * np.sqrt(2.0 / fan_in)
        if l["kind"] == "head":
            params[l["name"]] = dict(w=w * 0.5, b=jnp.zeros((l["cout"],), jnp.float32))
        else:
            params[l["name"]] = dict(
                w=w, gamma=jnp.ones((l["cout"],), jnp.float32), beta=jnp.zeros((l["cout"],), jnp.float32)
            )
            state[l["name"]] = dict(mean=jnp.zeros((l["cout"],)), var=jnp.ones((l["cout"],)))
    return params, state


def _conv(x, w, pad, dil, stride=(1, 1)):
    return jax.lax.conv_general_dilated(
        x, w, window_strides=stride, padding=[(pad[0], pad[0]), (pad[1], pad[1])],
        rhs_dilation=dil, dimension_numbers=("NCHW", "OIHW", "NCHW"),
    )


def apply(params, state, x, spec, train: bool, momentum: float = 0.97):
    """Forward pass. Returns (log-probabilities [N, T, C], new batch-norm state)."""
    new_state = {}
    for l in spec:
        kind = l["kind"]
        if kind == "pool":
            kh, kw = l["k"]
            x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, kh, kw), (1, 1, kh, kw), "VALID")
        elif kind == "conv":
            p, s = params[l["name"]], state[l["name"]]
            y = _conv(x, p["w"], l["pad"], l["dil"], l.get("stride", (1, 1)))
            if train:
                mean = y.mean(axis=(0, 2, 3))
                var = y.var(axis=(0, 2, 3))
                new_state[l["name"]] = dict(
                    mean=momentum * s["mean"] + (1 - momentum) * jax.lax.stop_gradient(mean),
                    var=momentum * s["var"] + (1 - momentum) * jax.lax.stop_gradient(var),
                )
            else:
                mean, var = s["mean"], s["var"]
                new_state[l["name"]] = s
            scale = p["gamma"] / jnp.sqrt(var + BN_EPS)
            y = (y - mean[None, :, None, None]) * scale[None, :, None, None] + p["beta"][None, :, None, None]
            y = jax.nn.relu(y)
            x = x + y if l.get("res") else y
        elif kind == "head":
            p = params[l["name"]]
            x = _conv(x, p["w"], (0, 0), (1, 1)) + p["b"][None, :, None, None]
    # [N, C, 1, T] -> [N, T, C]
    x = jnp.transpose(x[:, :, 0, :], (0, 2, 1))
    return jax.nn.log_softmax(x, axis=-1), new_state


def standardise(images_u8, mean, std):
    """uint8 [N, 32, W] + per-line mean/std -> float32 [N, 1, 32, W] (lines.prepare_line step 4)."""
    v = images_u8.astype(jnp.float32) / 255.0
    return ((v - mean[:, None, None]) / std[:, None, None])[:, None]


def ctc_loss(logprobs, labels, label_len):
    n, t, _ = logprobs.shape
    logit_pad = jnp.zeros((n, t), jnp.float32)  # every timestep counts: padding must read as blank
    label_pad = (jnp.arange(labels.shape[1])[None, :] >= label_len[:, None]).astype(jnp.float32)
    per_line = optax.ctc_loss(logprobs, logit_pad, labels, label_pad, blank_id=0)
    return per_line.mean()


def count_params(params) -> int:
    return int(sum(np.prod(a.shape) for a in jax.tree_util.tree_leaves(params)))
