"""Owns the held-out report: runs the exported ONNX files through tract (the product's engine) on
render-ktp line crops, greedy CTC decoding, and reports character error rate and exact-line accuracy
per field key and per tier.

    python evaluate.py --model ocr-model/model --val DIR... [--json report.json]

Preprocessing is done from the PNG exactly as model.json documents it (lines.prepare_line), so this
also checks the contract the Rust reader implements.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lines  # noqa: E402


def load_models(model_dir):
    import tract

    with open(os.path.join(model_dir, "model.json")) as f:
        meta = json.load(f)
    with open(os.path.join(model_dir, "charset.txt")) as f:
        charset = "".join(line[:-1] if line.endswith("\n") else line for line in f)
    if charset != lines.CHARSET or meta["blank_index"] != lines.BLANK:
        raise SystemExit("charset.txt / model.json do not match lines.py")
    runners = {}
    for m in meta["models"]:
        w = m["input"]["shape"][3]
        runners[w] = tract.onnx().load(os.path.join(model_dir, m["file"])).into_model().into_runnable()
    return meta, runners


def evaluate(model_dir, val_dirs, keys=None):
    meta, runners = load_models(model_dir)
    buckets = tuple(meta["buckets"])
    acc = defaultdict(lambda: dict(lines=0, chars=0, errors=0, exact=0))
    samples = defaultdict(list)
    infer_s = 0.0
    n = 0
    for d in val_dirs:
        for png, text, key, tier in lines.read_render_dir(d, keys):
            gray = np.asarray(Image.open(png).convert("L"))
            x, w = lines.prepare_line(gray, buckets)
            t = time.perf_counter()
            lp = runners[w].run([x])[0].to_numpy()[0]
            infer_s += time.perf_counter() - t
            pred, conf = lines.greedy_decode(lp)
            e = lines.edit_distance(pred, text)
            n += 1
            for k in (("key", key), ("tier", tier), ("all", "all")):
                r = acc[k]
                r["lines"] += 1
                r["chars"] += len(text)
                r["errors"] += e
                r["exact"] += e == 0
            if e and len(samples[key]) < 3:
                samples[key].append(dict(truth=text, read=pred, confidence=round(conf, 3), tier=tier))
    table = {}
    for (kind, name), r in sorted(acc.items()):
        table.setdefault(kind, {})[name] = dict(
            lines=r["lines"], cer=r["errors"] / max(1, r["chars"]), exact=r["exact"] / max(1, r["lines"])
        )
    return dict(model=os.path.abspath(model_dir), val=[os.path.abspath(d) for d in val_dirs], lines=n,
                tract_ms_per_line=1000 * infer_s / max(1, n), table=table, errors=dict(samples))


def markdown(report):
    out = [f"Held-out lines: {report['lines']}, tract {report['tract_ms_per_line']:.2f} ms per line "
           "(one thread, this machine, while others ran).", ""]
    for kind, title in (("all", "all"), ("tier", "tier"), ("key", "field key")):
        out += [f"| {title} | lines | CER | exact |", "|---|---:|---:|---:|"]
        for name, r in report["table"].get(kind, {}).items():
            out.append(f"| {name} | {r['lines']} | {100 * r['cer']:.2f} % | {100 * r['exact']:.2f} % |")
        out.append("")
    if report["errors"]:
        out.append("Some misreads (truth -> read):")
        for key, ex in sorted(report["errors"].items()):
            for e in ex:
                out.append(f"- {key} ({e['tier']}): `{e['truth']}` -> `{e['read']}` (conf {e['confidence']})")
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--val", nargs="+", required=True)
    ap.add_argument("--json")
    ap.add_argument("--keys", default=None, help="score the lines of these field keys only, comma-separated (name)")
    a = ap.parse_args()
    report = evaluate(a.model, a.val, lines.parse_keys(a.keys))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
    print(markdown(report))


if __name__ == "__main__":
    main()
