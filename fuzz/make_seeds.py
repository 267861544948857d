#!/usr/bin/env python3
# make_seeds.py - writes the seed corpus of every fuzz target.
#
#   python3 make_seeds.py OUTDIR [--mixq PATH] [--real DIR]
#
# OUTDIR/<target>/ receives small valid inputs: the tiny models of
# test/hostile/tiny_models.py in each format, their tokenizers, the
# #mixq.layout / !mixq.qweight texts of test/Dialect/*.mlir and, with --mixq,
# packages that `mixq quantize` makes from the tiny model (one per scheme).
# --real DIR (default ~/.cache/mixq, or $MIXQ_HOME) adds seeds derived from
# real files when they are there: the first 4 KiB of stories15M.bin and the
# first 400 pieces of its tokenizer.bin (the whole files are too large to be
# useful seeds). Nothing is downloaded.
import os
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, "test", "hostile"))
import tiny_models as tm  # noqa: E402


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def layout_texts():
    texts = set()
    for sub in ["test/Dialect", "test/Passes", "docs/examples"]:
        d = os.path.join(ROOT, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if not name.endswith(".mlir"):
                continue
            text = open(os.path.join(d, name), encoding="utf-8").read()
            for start in [m.start() for m in re.finditer(r"[#!]mixq\.", text)]:
                depth, i = 0, start
                while i < len(text) and text[i] != "\n":
                    depth += text[i] == "<"
                    depth -= text[i] == ">"
                    i += 1
                    if depth == 0 and text[i - 1] == ">":
                        texts.add(text[start:i])
                        break
    return sorted(texts)


def real_seeds(outdir, real):
    model = os.path.join(real, "stories15M.bin")
    if os.path.exists(model):
        with open(model, "rb") as f:
            write(outdir, "llama2c", "stories15M-head.bin", f.read(4096))
    tok = os.path.join(real, "tokenizer.bin")
    if os.path.exists(tok):
        data = open(tok, "rb").read()
        pieces, offset = [], 4
        while offset < len(data) and len(pieces) < 400:
            score, length = struct.unpack_from("<fi", data, offset)
            offset += 8
            pieces.append((data[offset:offset + length], score))
            offset += length
        write(outdir, "tokenizer-bin", "stories15M-400.bin",
              tm.tokenizer_bin(pieces))


def package_seeds(outdir, mixq, work):
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "tiny.bin")
    open(model, "wb").write(tm.llama2c()[0])
    open(os.path.join(work, "tokenizer.bin"), "wb").write(tm.tokenizer_bin())
    calib = os.path.join(ROOT, "test", "Codegen", "Inputs", "calib.txt")
    schemes = {
        "rtn4": ["rtn", "--bits", "4", "--group", "16"],
        "rtn3-embed": ["rtn", "--bits", "3", "--group", "16", "--asym",
                       "--quantize-embeddings"],
        "gptq8-2nd": ["gptq", "--bits", "8", "--group", "16", "--scale-bits",
                      "6", "--scale-block", "8"],
        "mixed": ["mixed", "--bpw", "3.5", "--mixed-group", "16", "--tile",
                  "16", "--slots", "1", "--asym"],
        "squeeze": ["squeeze"],
        "quik": ["quik", "--act-bits", "8", "--fp16-cols", "4"],
    }
    for name, args in schemes.items():
        out = os.path.join(work, name + ".mixq")
        subprocess.run([mixq, "quantize", "--model", model, "--scheme"] + args
                       + ["--calib", calib, "--calib-tokens", "32", "-o", out],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        write(outdir, "package", name + ".mixq", open(out, "rb").read())


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__ if __doc__ else "usage: make_seeds.py OUTDIR")
    outdir = args[0]
    mixq = args[args.index("--mixq") + 1] if "--mixq" in args else None
    real = (args[args.index("--real") + 1] if "--real" in args else
            os.environ.get("MIXQ_HOME", os.path.expanduser("~/.cache/mixq")))

    write(outdir, "llama2c", "tiny.bin", tm.llama2c()[0])
    write(outdir, "llama2c", "tiny-untied.bin", tm.llama2c(untied=True)[0])
    write(outdir, "llama2c", "tiny-vocab4.bin", tm.llama2c(vocab=4)[0])
    write(outdir, "gguf", "tiny.gguf", tm.gguf()[0])
    write(outdir, "gguf", "tiny-align64.gguf", tm.gguf(alignment=64)[0])
    model, config = tm.hf_checkpoint()
    write(outdir, "safetensors", "model.safetensors", model)
    write(outdir, "safetensors", "config.json", config)
    write(outdir, "tokenizer-bin", "tiny.bin", tm.tokenizer_bin())
    write(outdir, "tokenizer-json", "tiny.json", tm.tokenizer_json())
    write(outdir, "tokenizer-json", "metaspace.json",
          tm.tokenizer_json().replace(
              b'"normalizer": {"type": "Sequence"',
              b'"pre_tokenizer": {"type": "Metaspace", "replacement": '
              b'"\xe2\x96\x81", "prepend_scheme": "first", "split": true}, '
              b'"unused": {"type": "Sequence"').replace(
              b', "pre_tokenizer": null', b""))
    for i, text in enumerate(layout_texts()):
        write(outdir, "layout-attr", "text%03d.mlir" % i, text)
    real_seeds(outdir, real)
    if mixq:
        package_seeds(outdir, mixq, outdir.rstrip("/") + "-work")
    print("seeds in", outdir)


if __name__ == "__main__":
    main()
