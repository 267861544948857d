# tiny_models.py - writers of tiny valid model files in every format mixq reads.
#
# Shared by test/hostile/make_hostile.py (which breaks them) and
# fuzz/make_seeds.py (which seeds the fuzzers with them). Pure Python with a
# fixed seed, so every machine writes the same bytes. The model: dim 16,
# hidden 32, 1 layer, 2 heads, context 16 (so the mixed scheme's
# 16-row tiles fit), and a llama2.c tokenizer of 259 + len(MERGES) pieces.
import json
import random
import struct

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, SEQ = 16, 32, 1, 2, 2, 16
HEAD_DIM = DIM // HEADS
KV_DIM = HEAD_DIM * KV_HEADS
MERGES = ["th", "he", "in", "er", "an", " t", " a", "the", " the", "ing"]


def byte_piece(b):
    # llama2.c's export spells byte pieces as the character U+00bb.
    return chr(b).encode("utf-8")


def tokenizer_pieces():
    out = [(b"<unk>", 0.0), (b"\n<s>\n", 0.0), (b"\n</s>\n", 0.0)]
    out += [(byte_piece(b), 0.0) for b in range(256)]
    out += [(m.encode(), -float(i)) for i, m in enumerate(MERGES)]
    return out


VOCAB = len(tokenizer_pieces())


def tokenizer_bin(pieces=None):
    pieces = pieces if pieces is not None else tokenizer_pieces()
    out = struct.pack("<i", max(len(p) for p, _ in pieces))
    for p, score in pieces:
        out += struct.pack("<fi", score, len(p)) + p
    return out


def tokenizer_json_vocab():
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = 3 + b
    for c in "\u2581abcdeht":
        vocab.setdefault(c, len(vocab))
    for m in ["th", "he", "\u2581t", "\u2581a"]:
        vocab.setdefault(m, len(vocab))
    return vocab


def tokenizer_json():
    vocab = tokenizer_json_vocab()
    doc = {
        "version": "1.0",
        "added_tokens": [
            {"id": 0, "content": "<unk>", "special": True},
            {"id": 1, "content": "<s>", "special": True},
            {"id": 2, "content": "</s>", "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "},
             "content": "\u2581"}]},
        "pre_tokenizer": None,
        "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True,
                  "fuse_unk": True, "vocab": vocab,
                  "merges": ["t h", "h e", "\u2581 t", "\u2581 a"]},
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def weights(rng, vocab=VOCAB, untied=False):
    """Canonical name -> (shape, list of floats), in llama2.c order."""
    def mat(rows, cols, scale=0.2):
        return [rng.uniform(-scale, scale) for _ in range(rows * cols)]
    w = {"tok_embeddings.weight": ([vocab, DIM], mat(vocab, DIM, 0.5))}
    for i in range(LAYERS):
        p = "layers.%d." % i
        w[p + "attention_norm.weight"] = ([DIM], [1.0] * DIM)
        w[p + "attention.wq.weight"] = ([DIM, DIM], mat(DIM, DIM))
        w[p + "attention.wk.weight"] = ([KV_DIM, DIM], mat(KV_DIM, DIM))
        w[p + "attention.wv.weight"] = ([KV_DIM, DIM], mat(KV_DIM, DIM))
        w[p + "attention.wo.weight"] = ([DIM, DIM], mat(DIM, DIM))
        w[p + "ffn_norm.weight"] = ([DIM], [1.0] * DIM)
        w[p + "feed_forward.w1.weight"] = ([HIDDEN, DIM], mat(HIDDEN, DIM))
        w[p + "feed_forward.w2.weight"] = ([DIM, HIDDEN], mat(DIM, HIDDEN))
        w[p + "feed_forward.w3.weight"] = ([HIDDEN, DIM], mat(HIDDEN, DIM))
    w["norm.weight"] = ([DIM], [1.0] * DIM)
    if untied:
        w["output.weight"] = ([vocab, DIM], mat(vocab, DIM))
    return w


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def llama2c(vocab=VOCAB, untied=False, seed=1234):
    """A llama2.c version-0 .bin; returns (bytes, section boundaries)."""
    w = weights(random.Random(seed), vocab, untied)
    out = struct.pack("<7i", DIM, HIDDEN, LAYERS, HEADS, KV_HEADS,
                      -vocab if untied else vocab, SEQ)
    bounds = [len(out)]
    out += f32(w["tok_embeddings.weight"][1])
    bounds.append(len(out))
    for suffix in ["attention_norm", "attention.wq", "attention.wk",
                   "attention.wv", "attention.wo", "ffn_norm",
                   "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"]:
        for i in range(LAYERS):
            out += f32(w["layers.%d.%s.weight" % (i, suffix)][1])
        bounds.append(len(out))
    out += f32(w["norm.weight"][1])
    bounds.append(len(out))
    out += b"\0" * (4 * SEQ * HEAD_DIM)  # freq_cis_real + freq_cis_imag
    bounds.append(len(out))
    if untied:
        out += f32(w["output.weight"][1])
        bounds.append(len(out))
    return out, bounds


HF_NAMES = {
    "tok_embeddings.weight": "model.embed_tokens.weight",
    "norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
    "attention_norm": "input_layernorm", "attention.wq": "self_attn.q_proj",
    "attention.wk": "self_attn.k_proj", "attention.wv": "self_attn.v_proj",
    "attention.wo": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
    "feed_forward.w1": "mlp.gate_proj", "feed_forward.w2": "mlp.down_proj",
    "feed_forward.w3": "mlp.up_proj",
}
GGUF_NAMES = {
    "tok_embeddings.weight": "token_embd.weight",
    "norm.weight": "output_norm.weight", "output.weight": "output.weight",
    "attention_norm": "attn_norm", "attention.wq": "attn_q",
    "attention.wk": "attn_k", "attention.wv": "attn_v",
    "attention.wo": "attn_output", "ffn_norm": "ffn_norm",
    "feed_forward.w1": "ffn_gate", "feed_forward.w2": "ffn_down",
    "feed_forward.w3": "ffn_up",
}


def renamed(canonical, table, layer_prefix):
    if canonical in table:
        return table[canonical]
    _, i, rest = canonical.split(".", 2)
    return "%s%s.%s.weight" % (layer_prefix, i, table[rest[:-len(".weight")]])


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes) in data order."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors)


def hf_checkpoint(seed=1234):
    """(model.safetensors bytes, config.json bytes) of the tiny model, with
    the vocabulary of tokenizer_json()."""
    vocab = len(tokenizer_json_vocab())
    w = weights(random.Random(seed), vocab)
    tensors = [(renamed(n, HF_NAMES, "model.layers."), "F32", shape, f32(v))
               for n, (shape, v) in w.items()]
    config = {"model_type": "llama", "hidden_size": DIM,
              "intermediate_size": HIDDEN, "num_hidden_layers": LAYERS,
              "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
              "vocab_size": vocab, "max_position_embeddings": SEQ,
              "tie_word_embeddings": True, "hidden_act": "silu"}
    return safetensors(tensors), json.dumps(config).encode()


def gguf_string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf(seed=1234, alignment=32):
    """A GGUF v3 file of the tiny model (F32 tensors); returns (bytes,
    section boundaries)."""
    w = weights(random.Random(seed))
    kv = [("general.architecture", 8, gguf_string("llama")),
          ("llama.embedding_length", 4, struct.pack("<I", DIM)),
          ("llama.feed_forward_length", 4, struct.pack("<I", HIDDEN)),
          ("llama.block_count", 4, struct.pack("<I", LAYERS)),
          ("llama.attention.head_count", 4, struct.pack("<I", HEADS)),
          ("llama.attention.head_count_kv", 4, struct.pack("<I", KV_HEADS)),
          ("llama.context_length", 4, struct.pack("<I", SEQ)),
          ("llama.attention.layer_norm_rms_epsilon", 6,
           struct.pack("<f", 1e-5)),
          ("general.alignment", 4, struct.pack("<I", alignment)),
          ("tokenizer.ggml.tokens", 9,
           struct.pack("<IQ", 8, 3) + gguf_string("<unk>") +
           gguf_string("<s>") + gguf_string("</s>"))]
    out = b"GGUF" + struct.pack("<IQQ", 3, len(w), len(kv))
    bounds = [4, 8, 16, 24]
    for key, vtype, value in kv:
        out += gguf_string(key) + struct.pack("<I", vtype) + value
        bounds.append(len(out))
    data, offsets = b"", []
    for name, (shape, values) in w.items():
        offsets.append(len(data))
        data += f32(values)
        data += b"\0" * (-len(data) % alignment)
    for (name, (shape, values)), offset in zip(w.items(), offsets):
        out += gguf_string(renamed(name, GGUF_NAMES, "blk."))
        out += struct.pack("<I", len(shape))
        out += b"".join(struct.pack("<Q", d) for d in reversed(shape))
        out += struct.pack("<IQ", 0, offset)
        bounds.append(len(out))
    out += b"\0" * (-len(out) % alignment)
    bounds.append(len(out))
    return out + data, bounds
