#!/usr/bin/python3
"""Independent reference forward pass of a Qwen2 / Llama checkpoint, for
tests/llm/model/transformer_test.cpp.

    reference_forward.py MODEL_DIR IDS_JSON OUT_FILE

Reads MODEL_DIR/config.json and MODEL_DIR/model.safetensors (parsed by hand: 8-byte
little-endian header length, JSON header, raw little-endian bytes; F32 and BF16), runs
the Hugging Face eager forward written from the paper formulas in numpy float64 (none
of the C++ code is reused), and writes the logits of every position of the unpadded
batch IDS_JSON = {"input_ids": [[...], ...]} (rows of equal length) to OUT_FILE:

    disa-reference-logits v1
    B T V
    <V numbers per line, one line per (row, position), row-major>

Only numpy is needed (Debian's python3-numpy); float64 makes this the exact side of the
comparison, so the C++ float32 forward is checked for float32 rounding only.
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[begin:end]
        shape = entry["shape"]
        if entry["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif entry["dtype"] == "BF16":
            # bfloat16 is the top half of a float32.
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"reference_forward: tensor {name}: dtype {entry['dtype']} not handled")
        tensors[name] = arr.reshape(shape).astype(np.float64)
    return tensors


def rms_norm(x, w, eps):
    return w * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def silu(x):
    return x / (1.0 + np.exp(-x))


def forward(cfg, w, ids):
    arch = cfg["architectures"][0]
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads", heads)
    head_dim = cfg.get("head_dim") or hidden // heads
    eps = cfg["rms_norm_eps"]
    theta = cfg.get("rope_theta", 10000.0)
    if arch == "Qwen2ForCausalLM":
        qkv_bias, o_bias = True, False
    elif arch == "LlamaForCausalLM":
        qkv_bias = o_bias = bool(cfg.get("attention_bias", False))
    else:
        raise SystemExit(f"reference_forward: architecture {arch} not handled")

    batch, seq = ids.shape
    positions = np.arange(seq, dtype=np.float64)
    inv_freq = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angles = np.outer(positions, inv_freq)
    angles = np.concatenate([angles, angles], axis=-1)  # [T, d]
    cos, sin = np.cos(angles), np.sin(angles)
    causal = np.tril(np.ones((seq, seq), dtype=bool))

    def linear(x, prefix, bias):
        y = x @ w[prefix + ".weight"].T
        if bias:
            y = y + w[prefix + ".bias"]
        return y

    h = w["model.embed_tokens.weight"][ids]  # [B, T, hidden]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        x = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q = linear(x, p + "self_attn.q_proj", qkv_bias).reshape(batch, seq, heads, head_dim)
        k = linear(x, p + "self_attn.k_proj", qkv_bias).reshape(batch, seq, kv_heads, head_dim)
        v = linear(x, p + "self_attn.v_proj", qkv_bias).reshape(batch, seq, kv_heads, head_dim)
        q = q * cos[None, :, None, :] + rotate_half(q) * sin[None, :, None, :]
        k = k * cos[None, :, None, :] + rotate_half(k) * sin[None, :, None, :]
        out = np.zeros((batch, seq, heads, head_dim))
        for head in range(heads):
            kv = head // (heads // kv_heads)  # grouped-query attention
            scores = np.einsum("btd,bsd->bts", q[:, :, head], k[:, :, kv]) / np.sqrt(head_dim)
            scores = np.where(causal[None], scores, -np.inf)
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs = probs / probs.sum(axis=-1, keepdims=True)
            out[:, :, head] = np.einsum("bts,bsd->btd", probs, v[:, :, kv])
        h = h + linear(out.reshape(batch, seq, heads * head_dim), p + "self_attn.o_proj", o_bias)
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear(x, p + "mlp.gate_proj", False)
        up = linear(x, p + "mlp.up_proj", False)
        h = h + linear(silu(gate) * up, p + "mlp.down_proj", False)
    h = rms_norm(h, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return h @ head.T


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    model_dir, ids_file, out_file = sys.argv[1:]
    with open(f"{model_dir}/config.json") as f:
        cfg = json.load(f)
    with open(ids_file) as f:
        ids = np.array(json.load(f)["input_ids"], dtype=np.int64)
    logits = forward(cfg, read_safetensors(f"{model_dir}/model.safetensors"), ids)
    batch, seq, vocab = logits.shape
    with open(out_file, "w") as f:
        f.write("disa-reference-logits v1\n")
        f.write(f"{batch} {seq} {vocab}\n")
        for row in logits.reshape(batch * seq, vocab):
            f.write(" ".join(repr(float(x)) for x in row) + "\n")


if __name__ == "__main__":
    main()
