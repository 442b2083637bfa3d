"""Owns the line-crop data contract: charset, width buckets, preprocessing and loading render-ktp output.

Everything the Rust reader must reproduce before calling the ONNX model is in `prepare_line`; keep it
and ocr-model/training/README.md ("What the Rust side must do") in step.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

# Index 0 is the CTC blank; character i of CHARSET has class i + 1.
# Covers every character render-ktp prints in a value/header/issue line (checked on load).
CHARSET = " '(),-./0123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BLANK = 0
NUM_CLASSES = len(CHARSET) + 1
CHAR_TO_CLASS = {c: i + 1 for i, c in enumerate(CHARSET)}

HEIGHT = 32
# 480, not 512: tract 0.23.9 switches every convolution to its slow direct path (6x slower) at an
# input width of 512 for this network (measured: 504 -> 5 ms, 512 -> 16 ms). ~1 % of lines (long
# province headers) are wider than 480 and are squeezed to it.
DEFAULT_BUCKETS = (128, 256, 384, 480)
STRIDE = 4  # input columns per output timestep
STD_FLOOR = 0.02  # floor of the per-line standard deviation (pixel values in 0..1)
MAX_LABEL = 48


def bucket_for(width: int, buckets=DEFAULT_BUCKETS) -> int:
    """Smallest bucket that holds `width` columns; the largest bucket for wider lines (they are squeezed)."""
    for b in buckets:
        if width <= b:
            return b
    return buckets[-1]


def prepare_line(gray: np.ndarray, buckets=DEFAULT_BUCKETS) -> tuple[np.ndarray, int]:
    """uint8 [32, w] line crop -> (float32 [1, 1, 32, W] model input, W).

    1. A crop wider than the largest bucket is resized (bilinear) to exactly that width.
    2. v = pixel / 255; mean m and standard deviation s over the (resized, unpadded) crop.
    3. Right-pad to the bucket width W by repeating the last column.
    4. x = (v - m) / max(s, STD_FLOOR).
    """
    raw, mean, std, w = pad_raw(gray, buckets)
    x = (raw.astype(np.float32) / 255.0 - mean) / std
    return x[None, None], raw.shape[1]


def pad_raw(gray: np.ndarray, buckets=DEFAULT_BUCKETS):
    """Steps 1-3 of `prepare_line` on uint8: (padded uint8 [32, W], mean, std-with-floor, content width)."""
    assert gray.ndim == 2 and gray.shape[0] == HEIGHT, gray.shape
    w = gray.shape[1]
    if w > buckets[-1]:
        gray = np.asarray(Image.fromarray(gray).resize((buckets[-1], HEIGHT), Image.BILINEAR))
        w = buckets[-1]
    v = gray.astype(np.float32) / 255.0
    mean = float(v.mean())
    std = max(float(v.std()), STD_FLOOR)
    W = bucket_for(w, buckets)
    out = np.empty((HEIGHT, W), np.uint8)
    out[:, :w] = gray
    out[:, w:] = gray[:, w - 1 : w]
    return out, mean, std, w


def encode(text: str) -> list[int]:
    return [CHAR_TO_CLASS[c] for c in text]


def greedy_decode(logprobs: np.ndarray) -> tuple[str, float]:
    """[T, C] log-probabilities -> (text, confidence).

    Best class per timestep, merge repeats, drop blanks. Confidence is the product of the kept
    characters' maximum probabilities (1.0 for an empty line).
    """
    best = logprobs.argmax(-1)
    out, conf, prev = [], 0.0, BLANK
    for t, k in enumerate(best):
        if k != BLANK and k != prev:
            out.append(CHARSET[k - 1])
            conf += float(logprobs[t, k])
        prev = k
    return "".join(out), float(np.exp(conf))


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass
class Bucket:
    """Lines of one width bucket, padded, as uint8, with what the loss and the report need."""

    width: int
    images: np.ndarray  # uint8 [N, 32, W]
    mean: np.ndarray  # float32 [N]
    std: np.ndarray  # float32 [N]
    labels: np.ndarray  # int32 [N, MAX_LABEL], 0-padded
    label_len: np.ndarray  # int32 [N]
    content: np.ndarray  # int32 [N], columns of real crop before the right padding
    texts: list = field(default_factory=list)
    keys: list = field(default_factory=list)  # field key (nik, name, ...) of each line
    tiers: list = field(default_factory=list)


def parse_keys(arg: str | None):
    """A --keys argument ("name" or "name,address") as a set of field keys; None for every key."""
    return set(arg.split(",")) if arg else None


def read_render_dir(path: str, keys=None):
    """Yield (png path, text, key, tier) for each line crop of one render-ktp --lines output directory
    (with `keys`, only the lines of those field keys)."""
    cards = {}
    with open(os.path.join(path, "labels.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            cards[rec["file"].rsplit(".", 1)[0]] = rec
    with open(os.path.join(path, "lines.tsv")) as f:
        for line in f:
            rel, text = line.rstrip("\n").split("\t", 1)
            stem = os.path.basename(rel).rsplit(".", 1)[0]
            card, k = stem.rsplit("_", 1)
            rec = cards[card]
            info = rec["lines"][int(k)]
            assert info["text"] == text, (rel, text, info["text"])
            if keys and info["key"] not in keys:
                continue
            yield os.path.join(path, rel), text, info["key"], rec["tier"]


def load_dirs(dirs, buckets=DEFAULT_BUCKETS, limit: int | None = None, keys=None) -> dict[int, Bucket]:
    """Load the line crops of the given render directories into width buckets.

    With `limit`, only the first limit / len(dirs) lines of each directory (so tiers stay mixed).
    With `keys`, only the lines of those field keys (`name`, ...).
    """
    per = {b: dict(images=[], mean=[], std=[], content=[], labels=[], texts=[], keys=[], tiers=[]) for b in buckets}
    for d in dirs:
        n = 0
        for png, text, key, tier in read_render_dir(d, keys):
            bad = set(text) - set(CHARSET)
            if bad:
                raise SystemExit(f"{png}: characters {sorted(bad)} are not in the charset; extend CHARSET")
            if len(text) > MAX_LABEL:
                raise SystemExit(f"{png}: line longer than {MAX_LABEL} characters")
            gray = np.asarray(Image.open(png).convert("L"))
            raw, mean, std, content = pad_raw(gray, buckets)
            p = per[raw.shape[1]]
            p["images"].append(raw)
            p["content"].append(content)
            p["mean"].append(mean)
            p["std"].append(std)
            p["labels"].append(encode(text))
            p["texts"].append(text)
            p["keys"].append(key)
            p["tiers"].append(tier)
            n += 1
            if limit and n >= max(1, limit // len(dirs)):
                break
    out = {}
    for b, p in per.items():
        if not p["images"]:
            continue
        lab = np.zeros((len(p["labels"]), MAX_LABEL), np.int32)
        ln = np.zeros(len(p["labels"]), np.int32)
        for i, l in enumerate(p["labels"]):
            lab[i, : len(l)] = l
            ln[i] = len(l)
        out[b] = Bucket(
            width=b,
            images=np.stack(p["images"]),
            mean=np.asarray(p["mean"], np.float32),
            std=np.asarray(p["std"], np.float32),
            labels=lab,
            label_len=ln,
            content=np.asarray(p["content"], np.int32),
            texts=p["texts"],
            keys=p["keys"],
            tiers=p["tiers"],
        )
    return out


def augment(rng: np.random.Generator, images: np.ndarray, content: np.ndarray, mean: np.ndarray, std: np.ndarray,
            p: float = 0.5):
    """Training-only augmentation of a batch (uint8 [B, 32, W], padded as in pad_raw).

    With probability p per line: a horizontal stretch of 0.8-1.2 (other fonts are wider or narrower;
    the result stays inside the bucket, right padding rebuilt by repeating the last column) and a
    gamma of 0.6-1.6 (ink darkness, exposure). mean/std are recomputed over the content as
    prepare_line does. Returns new (images, mean, std).
    """
    images = images.copy()
    mean = mean.copy()
    std = std.copy()
    B, H, W = images.shape
    for i in np.flatnonzero(rng.random(B) < p):
        w = int(content[i])
        v = images[i, :, :w].astype(np.float32)
        f = rng.uniform(0.8, 1.2)
        nw = int(min(W, max(8, round(w * f))))
        src = np.clip((np.arange(nw) + 0.5) * (w / nw) - 0.5, 0, w - 1)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, w - 1)
        t = (src - lo)[None, :]
        v = v[:, lo] * (1 - t) + v[:, hi] * t
        g = np.exp(rng.uniform(np.log(0.6), np.log(1.6)))
        v = 255.0 * (v / 255.0) ** g
        u8 = np.clip(np.rint(v), 0, 255).astype(np.uint8)
        images[i, :, :nw] = u8
        images[i, :, nw:] = u8[:, nw - 1 : nw]
        vv = u8.astype(np.float32) / 255.0
        mean[i] = vv.mean()
        std[i] = max(float(vv.std()), STD_FLOOR)
    return images, mean, std
