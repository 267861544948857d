#!/usr/bin/env python3
# make_tiny_llama.py - writes a tiny random llama2.c model and tokenizer.
#
#   python3 make_tiny_llama.py OUTDIR [--untied] [--dims D,H,L,NH,NKV,S]
#
# --dims overrides dim, hidden, layers, heads, kv_heads and max_seq_len
# (default 32,64,2,4,2,16), e.g. for odd-shaped device checks.
# OUTDIR/tiny.bin: llama2.c v0 checkpoint (7 int32 header, then fp32 arrays);
# OUTDIR/tokenizer.bin: llama2.c tokenizer (<unk>, <s>, </s>, 256 byte pieces
# and a few merges); --untied stores a separate classifier (negative vocab in
# the header, wcls after freq_cis). Pure Python with a fixed seed: the output is the same on
# every machine.
import os
import random
import struct
import sys

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, SEQ = 32, 64, 2, 4, 2, 16
HEAD_DIM = DIM // HEADS
KV_DIM = HEAD_DIM * KV_HEADS


def set_dims(text):
    global DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, SEQ, HEAD_DIM, KV_DIM
    try:
        DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, SEQ = (int(v) for v in text.split(","))
    except ValueError:
        sys.exit("make_tiny_llama.py: --dims wants 6 integers D,H,L,NH,NKV,S")
    if DIM % HEADS or HEADS % KV_HEADS or (DIM // HEADS) % 2:
        sys.exit("make_tiny_llama.py: --dims: heads must divide dim (even head "
                 "dim) and kv_heads must divide heads")
    HEAD_DIM = DIM // HEADS
    KV_DIM = HEAD_DIM * KV_HEADS
MERGES = ["th", "he", "in", "er", "an", " t", " a", "the", " the", "ing",
          "ed", "nd", "ou", "is", "at"]


def pieces():
    out = [(b"<unk>", 0.0), (b"\n<s>\n", 0.0), (b"\n</s>\n", 0.0)]
    out += [(("<0x%02X>" % b).encode(), 0.0) for b in range(256)]
    out += [(m.encode(), -float(i)) for i, m in enumerate(MERGES)]
    return out


def floats(rng, n, scale):
    return struct.pack("<%df" % n, *[rng.uniform(-scale, scale) for _ in range(n)])


def write_model(path, vocab, rng, untied):
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", DIM, HIDDEN, LAYERS, HEADS, KV_HEADS,
                            -vocab if untied else vocab, SEQ))
        f.write(floats(rng, vocab * DIM, 0.5))                # tok_embeddings
        f.write(struct.pack("<%df" % (LAYERS * DIM), *[1.0 + rng.uniform(-0.1, 0.1) for _ in range(LAYERS * DIM)]))
        f.write(floats(rng, LAYERS * DIM * DIM, 0.2))         # wq
        f.write(floats(rng, LAYERS * KV_DIM * DIM, 0.2))      # wk
        f.write(floats(rng, LAYERS * KV_DIM * DIM, 0.2))      # wv
        f.write(floats(rng, LAYERS * DIM * DIM, 0.2))         # wo
        f.write(struct.pack("<%df" % (LAYERS * DIM), *[1.0 + rng.uniform(-0.1, 0.1) for _ in range(LAYERS * DIM)]))
        f.write(floats(rng, LAYERS * HIDDEN * DIM, 0.2))      # w1
        f.write(floats(rng, LAYERS * DIM * HIDDEN, 0.2))      # w2
        f.write(floats(rng, LAYERS * HIDDEN * DIM, 0.2))      # w3
        f.write(struct.pack("<%df" % DIM, *[1.0] * DIM))      # rms_final
        f.write(b"\0" * (4 * SEQ * HEAD_DIM))                  # freq_cis_real+imag
        if untied:
            f.write(floats(rng, vocab * DIM, 0.2))            # wcls


def write_tokenizer(path, toks):
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p, _ in toks)))
        for p, score in toks:
            f.write(struct.pack("<fi", score, len(p)))
            f.write(p)


def main():
    out = sys.argv[1]
    untied = "--untied" in sys.argv[2:]
    if "--dims" in sys.argv[2:]:
        i = sys.argv.index("--dims")
        if i + 1 >= len(sys.argv):
            sys.exit("make_tiny_llama.py: --dims needs a value")
        set_dims(sys.argv[i + 1])
    os.makedirs(out, exist_ok=True)
    toks = pieces()
    write_model(os.path.join(out, "tiny.bin"), len(toks), random.Random(1234),
                untied)
    write_tokenizer(os.path.join(out, "tokenizer.bin"), toks)


if __name__ == "__main__":
    main()
