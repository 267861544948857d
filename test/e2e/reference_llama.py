#!/usr/bin/env python3
"""reference_llama.py - an independent numpy Llama forward pass (the cross-check).

Written apart from the C++ engine (model/Engine.cpp) and on purpose in another
style: float64 throughout, a whole window at once with a causal mask (no KV
cache), RoPE as multiplication of complex numbers x[2i] + 1j*x[2i+1] by
exp(1j*pos*theta^(-2i/hd)), grouped-query attention by repeating KV heads.
It reads llama2.c version-0 .bin checkpoints (the stories models) with
np.memmap; it does not tokenize: the token ids come from `mixq ppl
--dump-tokens`, so the check isolates the engine from the tokenizer.

Usage:
  reference_llama.py MODEL --ids 1,9038,2501      logits of the last id (JSON)
  reference_llama.py MODEL --tokens T.i32 --ctx C [--logits L.f32]
                     [--ppl-json J.json] [--max-nmse X] [--max-abs X]
                     [--max-ppl-rel X]
      T.i32 (from --dump-tokens) holds windows of C int32 ids (BOS, window);
      prints NLL/ppl over the ppl protocol and, given the C++ logits (from
      --dump-logits, C-1 rows of vocab float32 per window, possibly fewer
      windows than T) and/or the C++ `ppl --json` output, compares them and
      exits 1 if a threshold is exceeded.
"""
import argparse
import json
import sys

import numpy as np


class Llama2cModel:
    """The weights of a llama2.c version-0 checkpoint, as float64 arrays."""

    def __init__(self, path):
        header = np.fromfile(path, dtype="<i4", count=7)
        (self.dim, self.hidden, self.n_layers, self.n_heads, self.n_kv_heads,
         vocab, self.seq_len) = (int(v) for v in header)
        self.shared = vocab > 0
        self.vocab = abs(vocab)
        self.head_dim = self.dim // self.n_heads
        kv_dim = self.head_dim * self.n_kv_heads
        data = np.memmap(path, dtype="<f4", mode="r", offset=7 * 4)
        cursor = 0

        def take(*shape):
            nonlocal cursor
            count = int(np.prod(shape))
            array = np.asarray(data[cursor:cursor + count], dtype=np.float64)
            cursor += count
            return array.reshape(shape)

        L, d, h = self.n_layers, self.dim, self.hidden
        self.embedding = take(self.vocab, d)
        self.rms_att = take(L, d)
        self.wq = take(L, d, d)
        self.wk = take(L, kv_dim, d)
        self.wv = take(L, kv_dim, d)
        self.wo = take(L, d, d)
        self.rms_ffn = take(L, d)
        self.w1 = take(L, h, d)
        self.w2 = take(L, d, h)
        self.w3 = take(L, h, d)
        self.rms_final = take(d)
        take(self.seq_len, self.head_dim // 2)  # freq_cis_real (unused)
        take(self.seq_len, self.head_dim // 2)  # freq_cis_imag (unused)
        self.classifier = self.embedding if self.shared else take(self.vocab, d)
        if cursor != data.size:
            sys.exit(f"{path}: {data.size - cursor} trailing floats; not a "
                     "llama2.c version-0 checkpoint")

    @staticmethod
    def rms_norm(x, weight, eps=1e-5):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight

    def rope(self, x, heads):
        """x: [T, heads*hd]; rotates adjacent pairs as complex numbers."""
        T, hd = x.shape[0], self.head_dim
        freqs = 10000.0 ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
        phase = np.exp(1j * np.outer(np.arange(T), freqs))  # [T, hd/2]
        z = x.reshape(T, heads, hd // 2, 2)
        z = (z[..., 0] + 1j * z[..., 1]) * phase[:, None, :]
        return np.stack([z.real, z.imag], axis=-1).reshape(T, heads * hd)

    def logits(self, ids):
        """Logits [len(ids), vocab] for a sequence starting at position 0."""
        T, hd = len(ids), self.head_dim
        x = self.embedding[np.asarray(ids)]
        causal = np.triu(np.full((T, T), -np.inf), k=1)
        repeat = self.n_heads // self.n_kv_heads
        for l in range(self.n_layers):
            n = self.rms_norm(x, self.rms_att[l])
            q = self.rope(n @ self.wq[l].T, self.n_heads)
            k = self.rope(n @ self.wk[l].T, self.n_kv_heads)
            v = n @ self.wv[l].T
            q = q.reshape(T, self.n_heads, hd).transpose(1, 0, 2)
            k = np.repeat(k.reshape(T, self.n_kv_heads, hd).transpose(1, 0, 2),
                          repeat, axis=0)
            v = np.repeat(v.reshape(T, self.n_kv_heads, hd).transpose(1, 0, 2),
                          repeat, axis=0)
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + causal
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            attention = (scores @ v).transpose(1, 0, 2).reshape(T, self.dim)
            x = x + attention @ self.wo[l].T
            n = self.rms_norm(x, self.rms_ffn[l])
            gate = n @ self.w1[l].T
            x = x + ((gate / (1 + np.exp(-gate))) * (n @ self.w3[l].T)) @ self.w2[l].T
        return self.rms_norm(x, self.rms_final) @ self.classifier.T


def nll_of_window(logits, targets):
    """Sum over rows of log-sum-exp(row) - row[target]."""
    top = logits.max(axis=-1)
    lse = top + np.log(np.exp(logits - top[:, None]).sum(axis=-1))
    return float(np.sum(lse - logits[np.arange(len(targets)), targets]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--ids", help="comma-separated token ids")
    parser.add_argument("--tokens", help="int32 windows from --dump-tokens")
    parser.add_argument("--ctx", type=int, default=256)
    parser.add_argument("--logits", help="float32 logits from --dump-logits")
    parser.add_argument("--ppl-json", help="output of `mixq ppl --json`")
    parser.add_argument("--max-nmse", type=float, default=1e-8)
    parser.add_argument("--max-abs", type=float, default=1e-3)
    parser.add_argument("--max-ppl-rel", type=float, default=1e-4)
    args = parser.parse_args()
    model = Llama2cModel(args.model)

    if args.ids:
        ids = [int(t) for t in args.ids.split(",")]
        print(json.dumps({"logits": model.logits(ids)[-1].tolist()}))
        return 0
    if not args.tokens:
        parser.error("give --ids or --tokens")

    ctx = args.ctx
    tokens = np.fromfile(args.tokens, dtype="<i4")
    if tokens.size == 0 or tokens.size % ctx:
        sys.exit(f"{args.tokens}: {tokens.size} ids is not a multiple of "
                 f"--ctx {ctx}")
    windows = tokens.reshape(-1, ctx)
    cpp = None
    if args.logits:
        cpp = np.fromfile(args.logits, dtype="<f4").reshape(-1, ctx - 1,
                                                             model.vocab)
    total_nll, err2, ref2, max_abs = 0.0, 0.0, 0.0, 0.0
    for w, window in enumerate(windows):
        ref = model.logits(window[:-1])  # feed BOS + window[:-1]
        total_nll += nll_of_window(ref, window[1:])
        if cpp is not None and w < cpp.shape[0]:
            diff = cpp[w].astype(np.float64) - ref
            err2 += float(np.sum(diff * diff))
            ref2 += float(np.sum(ref * ref))
            max_abs = max(max_abs, float(np.max(np.abs(diff))))
    scored = windows.shape[0] * (ctx - 1)
    result = {"ppl": float(np.exp(total_nll / scored)),
              "nll": total_nll / scored, "tokens": scored,
              "windows": windows.shape[0]}
    failures = []
    if cpp is not None:
        result["logits_windows"] = int(min(cpp.shape[0], windows.shape[0]))
        result["logits_nmse"] = err2 / ref2
        result["logits_max_abs"] = max_abs
        if not err2 / ref2 < args.max_nmse:
            failures.append(f"logits NMSE {err2 / ref2:.3g} >= {args.max_nmse}")
        if not max_abs < args.max_abs:
            failures.append(f"logits max-abs {max_abs:.3g} >= {args.max_abs}")
    if args.ppl_json:
        with open(args.ppl_json) as f:
            theirs = json.load(f)
        rel = abs(theirs["ppl"] - result["ppl"]) / result["ppl"]
        result["cpp_ppl"] = theirs["ppl"]
        result["ppl_rel_diff"] = rel
        if theirs["tokens"] != scored:
            failures.append(f"C++ scored {theirs['tokens']} tokens, "
                            f"reference {scored}")
        if not rel < args.max_ppl_rel:
            failures.append(f"ppl relative difference {rel:.3g} >= "
                            f"{args.max_ppl_rel}")
    print(json.dumps(result))
    for failure in failures:
        print("FAIL: " + failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
