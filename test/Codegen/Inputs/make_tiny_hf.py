# make_tiny_hf.py - a tiny Hugging Face Llama checkpoint with 16-wide heads.
#
#   python3 make_tiny_hf.py OUTDIR SRCDIR
#
# Writes OUTDIR/model.safetensors, config.json and tokenizer.json with the
# writers of test/hostile/tiny_models.py, at dim 32, hidden 64, 2 heads of
# 16 and 1 KV head, context 32: a RoPE half of 8 pairs (the vectorized CPU
# rotation) in the checkpoint's "half" pair style, with grouped KV heads.
import os
import sys

out, src = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(src, "test", "hostile"))
import tiny_models as tm  # noqa: E402

tm.DIM, tm.HIDDEN, tm.HEADS, tm.KV_HEADS, tm.SEQ = 32, 64, 2, 1, 32
tm.HEAD_DIM = tm.DIM // tm.HEADS
tm.KV_DIM = tm.HEAD_DIM * tm.KV_HEADS
model, config = tm.hf_checkpoint()
os.makedirs(out, exist_ok=True)
for name, data in [("model.safetensors", model), ("config.json", config),
                   ("tokenizer.json", tm.tokenizer_json())]:
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
