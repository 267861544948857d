#!/usr/bin/env python3
# make_hostile.py - writes the corpus of malformed model files.
#
#   python3 make_hostile.py OUTDIR --mixq PATH
#
# OUTDIR/good/ holds the valid tiny model in every format (tiny_models.py)
# and a package quantized from it by `mixq quantize`; OUTDIR/cases/<name>
# holds one hostile input each: a file, or a directory (a llama2.c .bin with
# its tokenizer.bin beside it, a Hugging Face directory). OUTDIR/cases.txt
# lists them, one line each: the path to pass and the path the error must
# name (the directory, for a .bin whose fault may be its tokenizer.bin). Every case must be refused by `mixq inspect`, `ppl` and `run`
# with a one-line error naming it (check_hostile.py). The kinds: truncation
# at every section boundary (and one byte either side), lengths and counts
# near 2^64, tensor ranges that overlap or leave the file, wrong dtypes,
# NaN/Inf weights, bad configs, a package whose content hash does not match,
# packages whose hash matches but whose contents lie (recomputed hash), and
# tokenizers with invalid UTF-8.
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiny_models as tm  # noqa: E402

NAN = struct.pack("<f", float("nan"))
INF = struct.pack("<f", float("inf"))
U64_MAX = 2**64 - 1
CASES = []


def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def patch(data, offset, new):
    return data[:offset] + new + data[offset + len(new):]


def cuts(bounds, size):
    """Every section boundary and one byte either side, inside the file."""
    points = {0, 1, 4, 7, 8}
    for b in bounds:
        points.update({b - 1, b, b + 1})
    return sorted(p for p in points if 0 <= p < size)


# llama2.c ---------------------------------------------------------------------

def llama2c_case(cases, name, model, tokenizer=None):
    d = os.path.join(cases, name)
    put(os.path.join(d, "model.bin"), model)
    put(os.path.join(d, "tokenizer.bin"), tokenizer or tm.tokenizer_bin())
    # The message may name either file of the directory.
    CASES.append((os.path.join(d, "model.bin"), d))


def llama2c_cases(cases):
    good, bounds = tm.llama2c()
    for cut in cuts(bounds, len(good)):
        llama2c_case(cases, "llama2c-cut-%d" % cut, good[:cut])
    llama2c_case(cases, "llama2c-extra-byte", good + b"\0")
    header = struct.unpack_from("<7i", good)
    for field, value in [(0, -16), (0, 2**31 - 1), (1, 0), (2, 2**31 - 1),
                         (3, 0), (3, 3), (4, 0), (4, 3), (5, 2**31 - 1),
                         (5, -2**31), (6, 0), (6, 2**31 - 1)]:
        h = list(header)
        h[field] = value
        llama2c_case(cases, "llama2c-header-%d-%d" % (field, value),
                     struct.pack("<7i", *h) + good[28:])
    llama2c_case(cases, "llama2c-magic-ak42", b"ak42" + good[4:])
    llama2c_case(cases, "llama2c-nan-weight", patch(good, bounds[1] + 64, NAN))
    llama2c_case(cases, "llama2c-inf-embedding", patch(good, 28, INF))
    llama2c_case(cases, "llama2c-tokenizer-invalid-utf8", good,
                 tm.tokenizer_bin(tm.tokenizer_pieces()[:-1] +
                                  [(b"\xff\xfe", 0.0)]))
    pieces = tm.tokenizer_pieces()
    llama2c_case(cases, "llama2c-tokenizer-short", good,
                 tm.tokenizer_bin(pieces[:100]))
    tok = tm.tokenizer_bin()
    llama2c_case(cases, "llama2c-tokenizer-cut", good, tok[:len(tok) // 2])
    llama2c_case(cases, "llama2c-tokenizer-huge-length", good,
                 tok[:4] + struct.pack("<fi", 0.0, 2**31 - 1) + tok[12:])
    llama2c_case(cases, "llama2c-tokenizer-negative-length", good,
                 tok[:4] + struct.pack("<fi", 0.0, -5) + tok[12:])


# GGUF -------------------------------------------------------------------------

def gguf_case(cases, name, data):
    path = os.path.join(cases, name + ".gguf")
    put(path, data)
    CASES.append(path)


def gguf_tensor_infos(data):
    """(offset of each tensor info, its fields) of a tiny_models GGUF."""
    n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)
    pos = 24
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", data, pos)
        pos += 8 + klen
        (vtype,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if vtype == 8:
            (slen,) = struct.unpack_from("<Q", data, pos)
            pos += 8 + slen
        elif vtype == 9:
            _, count = struct.unpack_from("<IQ", data, pos)
            pos += 12
            for _ in range(count):
                (slen,) = struct.unpack_from("<Q", data, pos)
                pos += 8 + slen
        else:
            pos += {4: 4, 6: 4}[vtype]
    infos = []
    for _ in range(n_tensors):
        start = pos
        (nlen,) = struct.unpack_from("<Q", data, pos)
        pos += 8 + nlen
        (ndims,) = struct.unpack_from("<I", data, pos)
        dims_at = pos + 4
        pos += 4 + 8 * ndims
        type_at, offset_at = pos, pos + 4
        pos += 12
        infos.append({"start": start, "ndims_at": dims_at - 4,
                      "dims_at": dims_at, "type_at": type_at,
                      "offset_at": offset_at})
    return infos


def gguf_cases(cases):
    good, bounds = tm.gguf()
    for cut in cuts(bounds, len(good)):
        gguf_case(cases, "gguf-cut-%d" % cut, good[:cut])
    gguf_case(cases, "gguf-version-1", patch(good, 4, struct.pack("<I", 1)))
    for name, offset, value in [
            ("tensor-count-max", 8, U64_MAX), ("tensor-count-2^60", 8, 2**60),
            ("kv-count-max", 16, U64_MAX), ("kv-count-2^63", 16, 2**63),
            ("key-length-max", 24, U64_MAX), ("key-length-2^63", 24, 2**63)]:
        gguf_case(cases, "gguf-" + name, patch(good, offset,
                                               struct.pack("<Q", value)))
    # The first value is the string "llama": its length near 2^64.
    first_value = 24 + 8 + len("general.architecture") + 4
    gguf_case(cases, "gguf-string-length-max",
              patch(good, first_value, struct.pack("<Q", U64_MAX - 7)))
    infos = gguf_tensor_infos(good)
    emb, q = infos[0], infos[2]
    for name, info, value in [
            ("offset-past-end", q, 1 << 20), ("offset-overflow", q, 2**64 - 32),
            ("offset-misaligned", q, 4), ("offset-overlap", q, 0)]:
        gguf_case(cases, "gguf-" + name,
                  patch(good, info["offset_at"], struct.pack("<Q", value)))
    for name, value in [("q4_0", 2), ("i32", 26), ("unknown-99", 99),
                        ("max", 2**32 - 1)]:
        gguf_case(cases, "gguf-dtype-" + name,
                  patch(good, q["type_at"], struct.pack("<I", value)))
    gguf_case(cases, "gguf-dims-overflow",
              patch(good, emb["dims_at"], struct.pack("<QQ", 2**40, 2**40)))
    gguf_case(cases, "gguf-dim-max",
              patch(good, emb["dims_at"], struct.pack("<Q", U64_MAX)))
    gguf_case(cases, "gguf-ndims-0",
              patch(good, emb["ndims_at"], struct.pack("<I", 0)))
    gguf_case(cases, "gguf-ndims-max",
              patch(good, emb["ndims_at"], struct.pack("<I", 2**32 - 1)))
    data_start = bounds[-1]
    gguf_case(cases, "gguf-nan-weight", patch(good, data_start + 8, NAN))
    gguf_case(cases, "gguf-inf-weight", patch(good, len(good) - 4, INF))
    gguf_case(cases, "gguf-arch-gpt2",
              good.replace(b"\x05\0\0\0\0\0\0\0llama",
                           b"\x05\0\0\0\0\0\0\0gpt2x", 1))
    gguf_case(cases, "gguf-alignment-3",
              good.replace(b"general.alignment\x04\0\0\0\x20\0\0\0",
                           b"general.alignment\x04\0\0\0\x03\0\0\0"))
    gguf_case(cases, "gguf-value-type-99",
              patch(good, first_value - 4, struct.pack("<I", 99)))


# safetensors ------------------------------------------------------------------

def hf_case(cases, name, model=None, config=None, tokenizer=None):
    good_model, good_config = tm.hf_checkpoint()
    d = os.path.join(cases, name)
    put(os.path.join(d, "model.safetensors"),
        good_model if model is None else model)
    put(os.path.join(d, "config.json"),
        good_config if config is None else config)
    put(os.path.join(d, "tokenizer.json"),
        tm.tokenizer_json() if tokenizer is None else tokenizer)
    CASES.append(d)


def st_rewrite(model, edit):
    """Applies edit(header dict) and re-serializes (data unchanged)."""
    (n,) = struct.unpack_from("<Q", model)
    header = json.loads(model[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + model[8 + n:]


def safetensors_cases(cases):
    model, config = tm.hf_checkpoint()
    (n,) = struct.unpack_from("<Q", model)
    for cut in sorted({0, 4, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1,
                       len(model) // 2, len(model) - 1}):
        hf_case(cases, "st-cut-%d" % cut, model[:cut])
    for name, value in [("max", U64_MAX), ("2^63", 2**63),
                        ("past-end", len(model)), ("zero", 0)]:
        hf_case(cases, "st-header-length-" + name,
                patch(model, 0, struct.pack("<Q", value)))
    first = "model.embed_tokens.weight"

    def set_offsets(begin, end, name=first):
        return lambda h: h[name].update(data_offsets=[begin, end])
    size = len(model) - 8 - n
    emb_end = 271 * 16 * 4
    for name, edit in [
            ("overlap", set_offsets(4, emb_end + 4)),
            ("reversed", set_offsets(emb_end, 0)),
            ("outside", set_offsets(size, size + emb_end)),
            ("offset-max", set_offsets(U64_MAX - 3, U64_MAX)),
            ("dtype-i32", lambda h: h[first].update(dtype="I32")),
            ("dtype-unknown", lambda h: h[first].update(dtype="Q4")),
            ("shape-overflow",
             lambda h: h[first].update(shape=[2**32, 2**32, 16])),
            ("shape-negative", lambda h: h[first].update(shape=[-1, 16])),
            ("shape-mismatch", lambda h: h[first].update(shape=[270, 16])),
            ("metadata-not-string",
             lambda h: h.update({"__metadata__": {"a": 1}}))]:
        hf_case(cases, "st-" + name, st_rewrite(model, edit))
    hf_case(cases, "st-hole", model + b"\0" * 4)
    hf_case(cases, "st-nan-weight", patch(model, 8 + n + 16, NAN))
    hf_case(cases, "st-inf-weight", patch(model, len(model) - 4, INF))
    hf_case(cases, "st-deep-json",
            struct.pack("<Q", 20000) + b"[" * 20000 + model[8 + n:])
    bad = model[:8 + 2] + b"\xff" + model[8 + 3:]
    hf_case(cases, "st-header-invalid-utf8", bad)
    cfg = json.loads(config)
    for key, value in [("hidden_size", -16), ("num_attention_heads", 0),
                       ("num_attention_heads", 3), ("vocab_size", 2**40),
                       ("max_position_embeddings", 2**24 + 1),
                       ("rope_scaling", {"type": "linear"}),
                       ("model_type", "mistral"), ("rms_norm_eps", -1.0)]:
        c = dict(cfg)
        c[key] = value
        hf_case(cases, "st-config-%s-%s" % (key, str(value).replace(" ", "")
                                             .replace("'", "")
                                             .replace(":", "")),
                config=json.dumps(c).encode())
    hf_case(cases, "st-config-missing-key",
            config=json.dumps({k: v for k, v in cfg.items()
                               if k != "vocab_size"}).encode())
    hf_case(cases, "st-config-not-json", config=b"{\"hidden_size\": 16,")
    tok = tm.tokenizer_json()
    hf_case(cases, "st-tokenizer-invalid-utf8",
            tokenizer=tok.replace(b"\"<unk>\": 0", b"\"<\xffunk>\": 0", 1))
    hf_case(cases, "st-tokenizer-not-json", tokenizer=tok[:len(tok) // 2])
    hf_case(cases, "st-tokenizer-id-huge",
            tokenizer=tok.replace(b"\"<unk>\": 0", b"\"<unk>\": 4294967296", 1))


# packages ---------------------------------------------------------------------

def package_parts(data):
    (n,) = struct.unpack_from("<Q", data)
    return json.loads(data[8:8 + n]), data[8 + n:]


def package_bytes(header, payload, rehash=True):
    """Serializes a package; with rehash the content hash is recomputed so
    that only the other checks can catch what was changed."""
    meta = header["__metadata__"]
    if rehash:
        sha = hashlib.sha256()
        for key in sorted(meta, key=lambda k: k.encode()):
            if key != "content_sha256":
                sha.update(key.encode() + b"=" + meta[key].encode() + b"\n")
        sha.update(payload)
        meta["content_sha256"] = sha.hexdigest()
    rest = {k: v for k, v in header.items() if k != "__metadata__"}
    text = ('{"__metadata__":{"format":' + json.dumps(meta["format"]) +
            "".join("," + json.dumps(k) + ":" + json.dumps(v)
                    for k, v in sorted(meta.items()) if k != "format") + "}" +
            "".join("," + json.dumps(k) + ":" + json.dumps(v)
                    for k, v in rest.items()) + "}").encode()
    text += b" " * (-(8 + len(text)) % 64)
    return struct.pack("<Q", len(text)) + text + payload


def package_case(cases, name, data):
    path = os.path.join(cases, name + ".mixq")
    put(path, data)
    CASES.append(path)


def stream(header, suffix):
    for name, entry in header.items():
        if name.endswith(suffix):
            return name, entry
    raise KeyError(suffix)


def package_cases(cases, packages):
    good = packages["rtn"]
    header, payload = package_parts(good)
    (n,) = struct.unpack_from("<Q", good)
    bounds = [8, 8 + n] + sorted(8 + n + e["data_offsets"][0]
                                 for k, e in header.items()
                                 if k != "__metadata__")
    for cut in cuts(bounds, len(good))[::2]:
        package_case(cases, "pkg-cut-%d" % cut, good[:cut])
    package_case(cases, "pkg-hash-mismatch",
                 good[:-1] + bytes([good[-1] ^ 1]))
    package_case(cases, "pkg-header-length-max",
                 patch(good, 0, struct.pack("<Q", U64_MAX)))

    def edited(edit, base=good, rehash=True):
        h, p = package_parts(base)
        p = bytearray(p)
        edit(h, p)
        return package_bytes(h, bytes(p), rehash)

    def set_meta(key, value):
        return lambda h, p: h["__metadata__"].update({key: value})

    scales, scales_entry = stream(header, ":scales")
    codes, codes_entry = stream(header, "wq.weight:codes")

    def poke(entry, offset, raw):
        def edit(h, p):
            at = entry["data_offsets"][0] + offset
            p[at:at + len(raw)] = raw
        return edit

    nan16, inf16 = b"\x00\x7e", b"\x00\x7c"
    for name, edit in [
            ("nan-scale", poke(scales_entry, 0, nan16)),
            ("inf-scale", poke(scales_entry, 2, inf16)),
            ("format-version-2", set_meta("format_version", "2")),
            ("config-dim-negative", set_meta(
                "config", header["__metadata__"]["config"].replace(
                    '"dim":16', '"dim":-16'))),
            ("config-context-2^25", set_meta(
                "config", header["__metadata__"]["config"].replace(
                    '"max_seq_len":16', '"max_seq_len":33554432'))),
            ("tensors-not-json", set_meta("tensors", "{")),
            ("tokenizer-not-base64", set_meta("tokenizer", "!!!")),
            ("tokenizer-invalid-utf8", set_meta(
                "tokenizer", __import__("base64").b64encode(tm.tokenizer_bin(
                    tm.tokenizer_pieces()[:-1] + [(b"\xc3", 0.0)])).decode())),
            ("tokenizer-short", set_meta(
                "tokenizer", __import__("base64").b64encode(tm.tokenizer_bin(
                    tm.tokenizer_pieces()[:50])).decode())),
            ("stream-dtype", lambda h, p: h[codes].update(dtype="I8")),
            ("stream-missing", lambda h, p: h.pop(codes)),
            ("stream-outside", lambda h, p: h[codes].update(
                data_offsets=[codes_entry["data_offsets"][0], 2**40]))]:
        package_case(cases, "pkg-" + name, edited(edit))
    # Consistent hash, lying contents of the other schemes.
    mixed_h, _ = package_parts(packages["mixed"])
    pmap, pmap_entry = stream(mixed_h, "wq.weight:pmap")
    package_case(cases, "pkg-mixed-pmap-out-of-range",
                 edited(poke(pmap_entry, 0, b"\xff"), packages["mixed"]))
    offs, offs_entry = stream(mixed_h, "wq.weight:offsets")
    package_case(cases, "pkg-mixed-offsets-huge",
                 edited(poke(offs_entry, 0, b"\xff\xff\xff\x7f"),
                        packages["mixed"]))
    sq_h, _ = package_parts(packages["squeeze"])
    try:
        rowptr, rowptr_entry = stream(sq_h, ":csr_rowptr")
        package_case(cases, "pkg-lut-rowptr-decreasing",
                     edited(poke(rowptr_entry, 4, b"\xff\xff\xff\x7f"),
                            packages["squeeze"]))
    except KeyError:
        pass
    lut, lut_entry = stream(sq_h, "wq.weight:lut")
    package_case(cases, "pkg-lut-nan", edited(poke(lut_entry, 0, nan16),
                                              packages["squeeze"]))
    quik_h, _ = package_parts(packages["quik"])
    cols, cols_entry = stream(quik_h, "wq.weight:col_index")
    package_case(cases, "pkg-quik-col-index-out-of-range",
                 edited(poke(cols_entry, 0, b"\xff\xff\x00\x00"),
                        packages["quik"]))


def main():
    outdir = sys.argv[1]
    mixq = sys.argv[sys.argv.index("--mixq") + 1]
    shutil.rmtree(outdir, ignore_errors=True)
    good, cases = os.path.join(outdir, "good"), os.path.join(outdir, "cases")
    put(os.path.join(good, "tiny.bin"), tm.llama2c()[0])
    put(os.path.join(good, "tokenizer.bin"), tm.tokenizer_bin())
    calib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                         "Codegen", "Inputs", "calib.txt")
    packages = {}
    for name, args in [
            ("rtn", ["rtn", "--bits", "4", "--group", "16"]),
            ("mixed", ["mixed", "--bpw", "3.5", "--mixed-group", "16",
                       "--tile", "16", "--slots", "1"]),
            ("squeeze", ["squeeze"]),
            ("quik", ["quik", "--act-bits", "8", "--fp16-cols", "4"])]:
        out = os.path.join(good, name + ".mixq")
        subprocess.run([mixq, "quantize", "--model",
                        os.path.join(good, "tiny.bin"), "--scheme"] + args +
                       ["--calib", calib, "--calib-tokens", "32", "-o", out],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        packages[name] = open(out, "rb").read()
    llama2c_cases(cases)
    gguf_cases(cases)
    safetensors_cases(cases)
    package_cases(cases, packages)
    with open(os.path.join(outdir, "cases.txt"), "w") as f:
        for case in CASES:
            arg, named = case if isinstance(case, tuple) else (case, case)
            f.write("%s\t%s\n" % (arg, named))
    print("%d hostile cases in %s" % (len(CASES), cases))


if __name__ == "__main__":
    main()
