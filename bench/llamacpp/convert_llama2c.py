#!/usr/bin/env python3
"""llama2.c checkpoint + tokenizer.bin -> GGUF (F32, or Q4_0 like llama-quantize).

    convert_llama2c.py stories15M.bin tokenizer.bin out.gguf [Q4_0]

A measurement helper for `mixq bench --llama-bench` where llama.cpp's own
converter (llama-convert-llama2c-to-ggml) and llama-quantize are not built:
the llama.rn npm package vendors llama.cpp's library but not its tools.
Written from the GGUF specification (version 3) and ggml's block formats:
Q4_0 is 32 weights per block, an FP16 scale d = max / -8 (max: the value of
largest magnitude) and 16 bytes of codes q = min(15, trunc(x / d + 8.5)),
weight j and j + 16 in byte j; Q8_0 is an FP16 scale amax / 127 and 32
int8 codes round(x / d). As llama-quantize does for a Q4_0 file, the 2-D
decoder weights are Q4_0 and the head, here the tied embedding table, whose
288-wide rows rule out Q6_K's 256-blocks, falls back to Q8_0; norms stay
F32. The llama2.c vocabulary's byte pieces become <0xNN> tokens and spaces
become U+2581, as in SentencePiece, so that llama.cpp sees no duplicates.
"""
import os
import struct
import sys

import numpy as np

GGUF_U32, GGUF_F32, GGUF_STRING, GGUF_ARRAY, GGUF_I32 = 4, 6, 8, 9, 5
TYPE_F32, TYPE_Q4_0, TYPE_Q8_0 = 0, 2, 8


def read_checkpoint(path):
    raw = open(path, 'rb').read()
    dim, hidden, layers, heads, kv_heads, vocab, seq = struct.unpack('7i', raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    head_size = dim // heads
    kv_dim = kv_heads * head_size
    w = np.frombuffer(raw, dtype=np.float32, offset=28)
    at = [0]

    def take(*shape):
        n = int(np.prod(shape))
        a = w[at[0]:at[0] + n].reshape(shape)
        at[0] += n
        return a

    t = {'emb': take(vocab, dim), 'att_norm': take(layers, dim),
         'wq': take(layers, dim, dim), 'wk': take(layers, kv_dim, dim),
         'wv': take(layers, kv_dim, dim), 'wo': take(layers, dim, dim),
         'ffn_norm': take(layers, dim), 'w1': take(layers, hidden, dim),
         'w2': take(layers, dim, hidden), 'w3': take(layers, hidden, dim),
         'norm': take(dim)}
    take(seq, head_size // 2)  # the RoPE tables llama2.c stores
    take(seq, head_size // 2)
    t['head'] = None if shared else take(vocab, dim)
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads,
               kv_heads=kv_heads, vocab=vocab, seq=seq)
    return cfg, t


def read_tokenizer(path, vocab):
    t = open(path, 'rb').read()
    at = 4
    pieces, scores, types = [], [], []
    for i in range(vocab):
        score, n = struct.unpack_from('fi', t, at)
        at += 8
        piece = t[at:at + n]
        at += n
        if i == 0:
            piece, kind = b'<unk>', 2
        elif i in (1, 2):
            piece, kind = (b'<s>', b'</s>')[i - 1], 3
        elif 3 <= i < 259:
            piece, kind = b'<0x%02X>' % (i - 3), 6
        else:
            piece, kind = piece.replace(b' ', '\u2581'.encode()), 1
        pieces.append(piece)
        scores.append(score)
        types.append(kind)
    return pieces, scores, types


def q4_0(a):
    b = a.reshape(-1, 32).astype(np.float32)
    mx = b[np.arange(len(b)), np.argmax(np.abs(b), axis=1)]
    d = mx / -8
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.minimum(15, np.trunc(b * inv[:, None] + 8.5)).astype(np.uint8)
    out = np.zeros((len(b), 18), np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def q8_0(a):
    b = a.reshape(-1, 32).astype(np.float32)
    d = np.abs(b).max(axis=1) / 127
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
    out = np.zeros((len(b), 34), np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = np.round(b * inv[:, None]).astype(np.int8).view(np.uint8)
    return out.tobytes()


def gguf_string(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack('<Q', len(x)) + x


def main():
    if len(sys.argv) not in (4, 5) or sys.argv[4:] not in ([], ['Q4_0']):
        sys.exit(__doc__)
    model, tokenizer, out = sys.argv[1:4]
    quantize = sys.argv[4:] == ['Q4_0']
    cfg, t = read_checkpoint(model)
    pieces, scores, types = read_tokenizer(tokenizer, cfg['vocab'])

    kv = []
    def kv_str(k, v): kv.append(gguf_string(k) + struct.pack('<I', GGUF_STRING) + gguf_string(v))
    def kv_u32(k, v): kv.append(gguf_string(k) + struct.pack('<II', GGUF_U32, v))
    def kv_f32(k, v): kv.append(gguf_string(k) + struct.pack('<If', GGUF_F32, v))
    def kv_arr(k, kind, items):
        kv.append(gguf_string(k) + struct.pack('<IIQ', GGUF_ARRAY, kind, len(items)) + items_bytes(kind, items))
    def items_bytes(kind, items):
        if kind == GGUF_STRING:
            return b''.join(gguf_string(x) for x in items)
        return struct.pack('<%d%s' % (len(items), 'f' if kind == GGUF_F32 else 'i'), *items)

    kv_str('general.architecture', 'llama')
    kv_str('general.name', os.path.splitext(os.path.basename(model))[0])
    kv_u32('general.file_type', 2 if quantize else 0)
    kv_u32('llama.context_length', cfg['seq'])
    kv_u32('llama.embedding_length', cfg['dim'])
    kv_u32('llama.block_count', cfg['layers'])
    kv_u32('llama.feed_forward_length', cfg['hidden'])
    kv_u32('llama.rope.dimension_count', cfg['dim'] // cfg['heads'])
    kv_u32('llama.attention.head_count', cfg['heads'])
    kv_u32('llama.attention.head_count_kv', cfg['kv_heads'])
    kv_f32('llama.attention.layer_norm_rms_epsilon', 1e-5)
    kv_f32('llama.rope.freq_base', 10000.0)
    kv_str('tokenizer.ggml.model', 'llama')
    kv_arr('tokenizer.ggml.tokens', GGUF_STRING, pieces)
    kv_arr('tokenizer.ggml.scores', GGUF_F32, scores)
    kv_arr('tokenizer.ggml.token_type', GGUF_I32, types)
    kv_u32('tokenizer.ggml.unknown_token_id', 0)
    kv_u32('tokenizer.ggml.bos_token_id', 1)
    kv_u32('tokenizer.ggml.eos_token_id', 2)

    tensors = [('token_embd.weight', t['emb']), ('output_norm.weight', t['norm'])]
    if t['head'] is not None:
        tensors.append(('output.weight', t['head']))
    for l in range(cfg['layers']):
        tensors += [(f'blk.{l}.attn_norm.weight', t['att_norm'][l]),
                    (f'blk.{l}.attn_q.weight', t['wq'][l]),
                    (f'blk.{l}.attn_k.weight', t['wk'][l]),
                    (f'blk.{l}.attn_v.weight', t['wv'][l]),
                    (f'blk.{l}.attn_output.weight', t['wo'][l]),
                    (f'blk.{l}.ffn_norm.weight', t['ffn_norm'][l]),
                    (f'blk.{l}.ffn_gate.weight', t['w1'][l]),
                    (f'blk.{l}.ffn_down.weight', t['w2'][l]),
                    (f'blk.{l}.ffn_up.weight', t['w3'][l])]
    head_name = 'output.weight' if t['head'] is not None else 'token_embd.weight'
    infos, blobs, offset = b'', [], 0
    for name, a in tensors:
        if not quantize or a.ndim < 2:
            kind, data = TYPE_F32, np.ascontiguousarray(a, dtype=np.float32).tobytes()
        elif name == head_name:
            kind, data = TYPE_Q8_0, q8_0(a)
        else:
            kind, data = TYPE_Q4_0, q4_0(a)
        dims = list(reversed(a.shape))  # GGUF lists the fastest dimension first
        infos += (gguf_string(name) + struct.pack('<I', len(dims)) +
                  b''.join(struct.pack('<Q', d) for d in dims) +
                  struct.pack('<IQ', kind, offset))
        pad = (-len(data)) % 32
        blobs.append(data + b'\0' * pad)
        offset += len(data) + pad
    head = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kv)) + b''.join(kv) + infos
    head += b'\0' * ((-len(head)) % 32)
    with open(out + '.tmp', 'wb') as f:
        f.write(head)
        for blob in blobs:
            f.write(blob)
    os.replace(out + '.tmp', out)
    print(f"{out}: {len(tensors)} tensors, {'Q4_0 (head Q8_0)' if quantize else 'F32'}")


if __name__ == '__main__':
    main()
