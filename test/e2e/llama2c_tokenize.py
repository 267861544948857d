#!/usr/bin/env python3
"""Independent reference of llama2.c's run.c encode() for tokenizer.bin.

Written from the description of the algorithm (not from run.c, and sharing no
code with model/Llama2cTokenizer.cpp, which uses a heap instead of this
quadratic rescan). It produced the expected token ids of the real-tokenizer
tests in test/unit/TokenizerTest.cpp.

  llama2c_tokenize.py TOKENIZER_BIN TEXT...       one JSON list per TEXT
  llama2c_tokenize.py TOKENIZER_BIN --json FILE   FILE: JSON list of texts;
                                                  prints [[text, ids], ...]

TEXT arguments are Python string literals when prefixed with "py:" (e.g.
'py:"a\\nb"'), so that control characters and invalid bytes can be given;
a literal bytes value (py:b"\\xff") is used as raw bytes.
"""
import ast
import json
import struct
import sys


def read_tokenizer(path):
    data = open(path, "rb").read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off, vocab, scores = 4, [], []
    while off < len(data):
        score, length = struct.unpack_from("<fi", data, off)
        off += 8
        vocab.append(data[off:off + length])
        scores.append(score)
        off += length
    return vocab, scores


class Encoder:
    def __init__(self, vocab, scores):
        self.vocab, self.scores = vocab, scores
        # Python's sort is stable; bytes compare like strcmp (no NULs except
        # the piece of byte 0, which strcmp sees as "", sorting first either
        # way).
        self.sorted = sorted(range(len(vocab)),
                             key=lambda i: vocab[i].split(b"\0")[0])

    def lookup(self, s):
        """glibc bsearch over the sorted vocabulary."""
        lo, hi = 0, len(self.sorted)
        while lo < hi:
            mid = (lo + hi) // 2
            other = self.vocab[self.sorted[mid]].split(b"\0")[0]
            if s < other:
                hi = mid
            elif s > other:
                lo = mid + 1
            else:
                return self.sorted[mid]
        return -1

    def encode(self, text, bos=False, eos=False):
        tokens = [1] if bos else []
        if text:
            tokens.append(self.lookup(b" "))
        buf = b""
        for i, c in enumerate(text):
            if c & 0xC0 != 0x80:
                buf = b""
            buf += bytes([c])
            nxt = text[i + 1] if i + 1 < len(text) else 0
            if nxt & 0xC0 == 0x80 and len(buf) < 4:
                continue
            tid = self.lookup(buf)
            if tid != -1:
                tokens.append(tid)
            else:
                tokens.extend(b + 3 for b in buf)
            buf = b""
        while True:  # BOS takes part in merges, as in run.c
            best, best_id, best_i = -1e10, -1, -1
            for i in range(len(tokens) - 1):
                tid = self.lookup(self.vocab[tokens[i]] +
                                  self.vocab[tokens[i + 1]])
                if tid != -1 and self.scores[tid] > best:
                    best, best_id, best_i = self.scores[tid], tid, i
            if best_i == -1:
                break
            tokens[best_i:best_i + 2] = [best_id]
        if eos:
            tokens.append(2)
        return tokens


def as_bytes(arg):
    if arg.startswith("py:"):
        value = ast.literal_eval(arg[3:])
        return value if isinstance(value, bytes) else value.encode("utf-8")
    return arg.encode("utf-8")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    enc = Encoder(*read_tokenizer(sys.argv[1]))
    if sys.argv[2] == "--json":
        texts = json.load(open(sys.argv[3], encoding="utf-8"))
        print(json.dumps([[t, enc.encode(t.encode("utf-8"))] for t in texts],
                         ensure_ascii=False))
        return
    for arg in sys.argv[2:]:
        print(json.dumps(enc.encode(as_bytes(arg))))


if __name__ == "__main__":
    main()
