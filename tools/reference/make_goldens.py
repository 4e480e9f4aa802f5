#!/usr/bin/python3
"""Writes the golden test cases under recurrent-core/src/test/resources/golden/<case>/.

Each case: config.json, model.safetensors, events.jsonl.gz, expected.jsonl.gz.
Expected scores are computed by reloading the saved model (weights rounded to the stored
dtype, then float64) and scoring the events as parsed back from their JSON text.

    /usr/bin/python3 tools/reference/make_goldens.py [--out DIR] [--only CASE ...]
"""

import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lseq_ref as R          # noqa: E402
import randmodel as RM        # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "recurrent-core", "src", "test", "resources", "golden")


def cfg(name, d_model, inp, blocks, head, norm="layer", **extra):
    c = {"format": "lseq-model", "version": 1, "name": name, "d_model": d_model,
         "input": inp, "norm": norm}
    c.update(extra)
    c["blocks"] = blocks
    c["head"] = head
    return c


# Each case: config, dtype, keys, events per key, init options, tensor-presence flags.
CASES = [
    dict(case="lru_next_token_bos", dtype="F32", keys=3, n=2000, seed=101,
         config=cfg("golden-lru-next-token-bos", 32,
                    {"type": "tokens", "vocab_size": 64, "bos_token": 1},
                    [{"mixer": {"type": "lru", "d_state": 32}, "post": "glu"},
                     {"mixer": {"type": "lru", "d_state": 32}, "post": "glu"}],
                    {"type": "next_token", "tie_embeddings": False},
                    norm="layer", gelu="erf"),
         head_bias=True),
    dict(case="lru_long_memory", dtype="F32", keys=2, n=10000, seed=102,
         config=cfg("golden-lru-long-memory", 32,
                    {"type": "tokens", "vocab_size": 32},
                    [{"mixer": {"type": "lru", "d_state": 32}, "post": "glu"}],
                    {"type": "next_token", "tie_embeddings": True},
                    norm="rms"),
         head_bias=False, init=dict(lru={0: (0.99, 0.9999, math.pi / 10)},
                                    embed_std=1.0 / math.sqrt(32))),
    dict(case="gru_classes", dtype="F32", keys=3, n=2000, seed=103,
         config=cfg("golden-gru-classes", 16,
                    {"type": "features", "dim": 5},
                    [{"mixer": {"type": "gru", "d_state": 24}, "post": "glu",
                      "mlp": {"hidden": 32}}],
                    {"type": "classes", "num_classes": 4},
                    norm="rms", norm_eps=1e-6, gelu="tanh")),
    dict(case="lstm_regression", dtype="F32", keys=3, n=2000, seed=104,
         config=cfg("golden-lstm-regression", 24,
                    {"type": "features", "dim": 6},
                    [{"mixer": {"type": "lstm", "d_state": 24}, "post": "none",
                      "mlp": {"hidden": 48}}],
                    {"type": "regression", "dim": 6},
                    norm="layer"),
         init=dict(head_gain=1.0)),
    dict(case="attention_next_token", dtype="F32", keys=3, n=2000, seed=105,
         config=cfg("golden-attention-next-token", 32,
                    {"type": "tokens", "vocab_size": 64},
                    [{"mixer": {"type": "attention", "heads": 2, "window": 32,
                                "rope_theta": 10000.0, "logn_base": 16},
                      "post": "none", "mlp": {"hidden": 64}}],
                    {"type": "next_token", "tie_embeddings": True},
                    norm="layer", gelu="erf"),
         attn_bias=[True], head_bias=True, init=dict(embed_std=1.0 / math.sqrt(32))),
    dict(case="attention_nobias_classes", dtype="F32", keys=3, n=2000, seed=106,
         config=cfg("golden-attention-nobias-classes", 32,
                    {"type": "features", "dim": 4},
                    [{"mixer": {"type": "attention", "heads": 4, "window": 50},
                      "post": "glu"}],
                    {"type": "classes", "num_classes": 3},
                    norm="rms"),
         attn_bias=[False]),
    dict(case="gau_next_token_bos", dtype="F32", keys=3, n=2000, seed=107,
         config=cfg("golden-gau-next-token-bos", 32,
                    {"type": "tokens", "vocab_size": 48, "bos_token": 0},
                    [{"mixer": {"type": "gau", "expansion": 2, "key_size": 16, "window": 40,
                                "rope_theta": 500.0},
                      "post": "none"}],
                    {"type": "next_token", "tie_embeddings": False},
                    norm="layer"),
         head_bias=False),
    dict(case="mixed_f16", dtype="F16", keys=3, n=2000, seed=108,
         config=cfg("golden-mixed-f16", 24,
                    {"type": "tokens", "vocab_size": 64, "bos_token": 2},
                    [{"mixer": {"type": "lru", "d_state": 32}, "post": "glu"},
                     {"mixer": {"type": "gru", "d_state": 24}, "post": "none",
                      "mlp": {"hidden": 48}},
                     {"mixer": {"type": "attention", "heads": 2, "window": 16,
                                "rope_theta": 10000.0, "logn_base": 8},
                      "post": "glu"},
                     {"mixer": {"type": "lstm", "d_state": 20}, "post": "glu",
                      "mlp": {"hidden": 32}},
                     {"mixer": {"type": "gau", "expansion": 2, "key_size": 8, "window": 16,
                                "rope_theta": 1000.0, "logn_base": 4},
                      "post": "none"}],
                    {"type": "next_token", "tie_embeddings": False},
                    norm="layer", gelu="tanh"),
         attn_bias=[False, False, True, False, False], head_bias=True),
    dict(case="mixed_bf16_regression", dtype="BF16", keys=3, n=2000, seed=109,
         config=cfg("golden-mixed-bf16-regression", 16,
                    {"type": "features", "dim": 3},
                    [{"mixer": {"type": "lru", "d_state": 24}, "post": "glu"},
                     {"mixer": {"type": "gau", "expansion": 2, "key_size": 8, "window": 24},
                      "post": "none"},
                     {"mixer": {"type": "lstm", "d_state": 16}, "post": "glu",
                      "mlp": {"hidden": 32}}],
                    {"type": "regression", "dim": 3},
                    norm="rms", gelu="erf"),
         init=dict(head_gain=1.0)),
    # Extension "sinks" (attention sinks; tools/reference/README.md, "Format extensions").
    dict(case="attention_sinks", dtype="F32", keys=3, n=2000, seed=110,
         config=cfg("golden-attention-sinks", 32,
                    {"type": "tokens", "vocab_size": 64, "bos_token": 1},
                    [{"mixer": {"type": "attention", "heads": 2, "window": 16,
                                "rope_theta": 10000.0, "logn_base": 8, "sinks": 4},
                      "post": "none", "mlp": {"hidden": 64}}],
                    {"type": "next_token", "tie_embeddings": False},
                    norm="layer", gelu="erf"),
         attn_bias=[True], head_bias=True, init=dict(embed_std=1.0 / math.sqrt(32))),
    dict(case="gau_sinks", dtype="F32", keys=3, n=2000, seed=111,
         config=cfg("golden-gau-sinks", 32,
                    {"type": "tokens", "vocab_size": 48},
                    [{"mixer": {"type": "gau", "expansion": 2, "key_size": 16, "window": 16,
                                "rope_theta": 500.0, "logn_base": 8, "sinks": 3},
                      "post": "glu"}],
                    {"type": "next_token", "tie_embeddings": False},
                    norm="rms"),
         head_bias=True),
]


def make_case(spec, out_root):
    t0 = time.time()
    config = spec["config"]
    d = os.path.join(out_root, spec["case"])
    nb = len(config["blocks"])
    model = RM.build_random(config, spec["seed"], attn_bias=spec.get("attn_bias", [False] * nb),
                            head_bias=spec.get("head_bias"), **spec.get("init", {}))
    R.save_model(d, config, model.state_dict(), spec["dtype"])
    stored = R.load_model(d)          # weights as stored (rounded), in float64

    keys = ["k%d" % i for i in range(spec["keys"])]
    if config["input"]["type"] == "tokens":
        streams = RM.token_streams(spec["seed"] + 1000, config["input"]["vocab_size"], keys,
                                   spec["n"])
        lines = RM.interleave(spec["seed"] + 2000, streams, "token")
    else:
        streams = RM.feature_streams(spec["seed"] + 1000, config["input"]["dim"], keys,
                                     spec["n"])
        lines = RM.interleave(spec["seed"] + 2000, streams, "features")
    scores = RM.score_lines(stored, lines)

    vals = [v for s in scores for v in (s["probs"] if "probs" in s else [s["score"]])]
    assert all(math.isfinite(v) for v in vals), spec["case"]
    assert max(vals) > min(vals), spec["case"]
    RM.write_gz_lines(os.path.join(d, "events.jsonl.gz"), lines)
    RM.write_gz_lines(os.path.join(d, "expected.jsonl.gz"), [json.dumps(s) for s in scores])
    summary = {"case": spec["case"], "dtype": spec["dtype"], "keys": spec["keys"],
               "events": len(lines), "head": config["head"]["type"],
               "mixers": [b["mixer"]["type"] for b in config["blocks"]],
               "min": min(vals), "max": max(vals), "mean": sum(vals) / len(vals),
               "seconds": round(time.time() - t0, 1)}
    return summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", help="case names (default: all)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    summaries = []
    for spec in CASES:
        if a.only and spec["case"] not in a.only:
            continue
        s = make_case(spec, a.out)
        summaries.append(s)
        print("%-26s %-5s %d keys %6d events  %-10s range [%.4g, %.4g] mean %.4g  %.1fs"
              % (s["case"], s["dtype"], s["keys"], s["events"], s["head"], s["min"], s["max"],
                 s["mean"], s["seconds"]), flush=True)
    if not a.only:
        index = [{k: s[k] for k in ("case", "dtype", "keys", "events", "head", "mixers")}
                 for s in summaries]
        with open(os.path.join(a.out, "index.json"), "w") as f:
            json.dump(index, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
