#!/usr/bin/env python3
"""Quality table of every scheme on stories15M: perplexity vs bits per weight.

Quantizes stories15M with each configuration below, reads the exact bits per
weight back with `mixq inspect --json` (everything counted), and measures
perplexity with the reference engine on the dequantized weights (QUIK's
activation quantization simulated) on held-out King James text. Calibration
uses the first tokens of kjv.txt (Genesis); evaluation uses its last
`--eval-chars` characters (the end of Revelation), so the two never overlap.

Writes bench/results/quality-stories15M.{md,json,png}. Needs python3 and,
for the plot, python3-matplotlib (`apt-get install python3-matplotlib`).

    python3 bench/quality.py [--mixq build/bin/mixq] [--only mixed]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (label, family, flags); family groups the plot's series.
CONFIGS = [("fp32", "fp32", None)]
for method in ("rtn", "gptq"):
    for bits in (2, 3, 4):
        for group in (32, 64, 128):
            CONFIGS.append((f"{method} int{bits} g{group}", method,
                            ["--scheme", method, "--bits", str(bits),
                             "--group", str(group)]))
for bpw in ("2.5", "2.75", "2.91", "3.25"):
    CONFIGS.append((f"mixed {bpw}", "mixed",
                    ["--scheme", "mixed", "--bpw", bpw]))
for bits in (3, 4):
    CONFIGS.append((f"squeeze {bits} dense", "squeeze dense",
                    ["--scheme", "squeeze", "--lut-bits", str(bits),
                     "--fence", "0", "--sensitive", "0"]))
    CONFIGS.append((f"squeeze {bits} +sparse", "squeeze +sparse",
                    ["--scheme", "squeeze", "--lut-bits", str(bits)]))
for act in (16, 8, 4):
    CONFIGS.append((f"quik w4a{act}", "quik",
                    ["--scheme", "quik", "--act-bits", str(act)]))


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit(f"quality.py: {' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} cores)"
    except OSError:
        pass
    return "an unknown CPU"


def last_line(text):
    return text.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mixq", default=os.path.join(ROOT, "build/bin/mixq"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results"))
    ap.add_argument("--eval-chars", type=int, default=60000)
    ap.add_argument("--max-windows", type=int, default=24)
    ap.add_argument("--only", default="", help="run labels containing this")
    args = ap.parse_args()

    model = last_line(run([args.mixq, "fetch", "stories15M"]))
    kjv = last_line(run([args.mixq, "fetch", "kjv"]))
    with open(kjv, encoding="utf-8") as f:
        text = f.read()
    work = tempfile.mkdtemp(prefix="mixq-quality-")
    heldout = os.path.join(work, "kjv-heldout.txt")
    with open(heldout, "w", encoding="utf-8") as f:
        f.write(text[-args.eval_chars:])

    rows = []
    for label, family, flags in CONFIGS:
        if args.only and args.only not in label:
            continue
        start = time.time()
        if flags is None:
            path, bpw, bpw_all, qtime = model, 32.0, 32.0, 0.0
        else:
            path = os.path.join(work, label.replace(" ", "_") + ".mixq")
            run([args.mixq, "quantize", "--model", model, "-o", path,
                 "--calib", kjv] + flags)
            qtime = time.time() - start
            info = json.loads(run([args.mixq, "inspect", path, "--json"]))
            bpw, bpw_all = info["bpw"], info["bpw_all"]
        ppl = json.loads(run([args.mixq, "ppl", "--model", path, "--text",
                              heldout, "--max-windows", str(args.max_windows),
                              "--json"]))
        row = {"label": label, "family": family, "bpw": bpw,
               "bpw_all": bpw_all, "ppl": ppl["ppl"], "tokens": ppl["tokens"],
               "quantize_s": round(qtime, 1)}
        rows.append(row)
        print(f"{label:24s} bpw {bpw:7.4f}  all {bpw_all:7.4f}  "
              f"ppl {ppl['ppl']:10.2f}  ({qtime:5.1f} s)", flush=True)
        if flags is not None:
            os.remove(path)

    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, "quality-stories15M")
    with open(base + ".json", "w") as f:
        json.dump({"model": "stories15M", "eval_text":
                   f"last {args.eval_chars} chars of KJV (kjv.txt)",
                   "rows": rows}, f, indent=1)
    fp32 = next((r["ppl"] for r in rows if r["family"] == "fp32"), None)
    with open(base + ".md", "w") as f:
        f.write("# stories15M: perplexity vs bits per weight\n\n")
        f.write(f"Held-out text: the last {args.eval_chars} characters of the "
                "King James Bible (`mixq fetch kjv`), at most "
                f"{args.max_windows} windows of 255 tokens; calibration: the "
                "first 8192 tokens (Genesis). Bits per weight as `mixq "
                "inspect` reports them, every stream counted: `bpw` over the "
                "quantized linear layers, `bpw all` over everything stored "
                "(FP16 embeddings, FP32 norms). Produced by "
                "`python3 bench/quality.py` on " + cpu_model() + ". The "
                "`quantize s` column is wall time, not a benchmark.\n\n")
        f.write("| scheme | bpw | bpw all | ppl | ppl / fp32 | quantize s |\n")
        f.write("|---|---:|---:|---:|---:|---:|\n")
        for r in rows:
            ratio = r["ppl"] / fp32 if fp32 else float("nan")
            f.write(f"| {r['label']} | {r['bpw']:.4f} | {r['bpw_all']:.4f} | "
                    f"{r['ppl']:.2f} | {ratio:.3f} | {r['quantize_s']} |\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("quality.py: no matplotlib; skipping the plot "
              "(apt-get install python3-matplotlib)", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    families = []
    for r in rows:
        if r["family"] not in families and r["family"] != "fp32":
            families.append(r["family"])
    for fam in families:
        pts = sorted((r["bpw"], r["ppl"]) for r in rows if r["family"] == fam)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=fam)
    if fp32:
        ax.axhline(fp32, color="k", linestyle="--", label="fp32")
    ax.set_xlabel("bits per weight (quantized linears, everything counted)")
    ax.set_ylabel("perplexity (held-out KJV, lower is better)")
    ax.set_yscale("log")
    ax.set_title("stories15M: perplexity vs bits per weight")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=120)


if __name__ == "__main__":
    main()
