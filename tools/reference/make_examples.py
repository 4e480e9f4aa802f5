#!/usr/bin/python3
"""Writes the example models and event files under examples/ (random weights, fixed seeds).

    examples/models/reference-lru/         tokens V=512 (BOS 1), H=64, 2 x lru(128) + glu
    examples/models/reference-attention/   same with attention(4 heads, W=256) mixers
    examples/events/sample.jsonl           ~5,000 events over 8 keys (for reference-lru)
    examples/events/sample-expected.jsonl  the reference's scores of sample.jsonl
    examples/events/bad.jsonl              invalid records mixed with valid ones

    /usr/bin/python3 tools/reference/make_examples.py [--out DIR]
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lseq_ref as R          # noqa: E402
import randmodel as RM        # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

KEYS = ["card-4411", "card-0007", "user-alice", "user-bob", "acct-58213", "device-ab12",
        "session-x1", "merchant-99"]


def example_config(name, mixer):
    return {"format": "lseq-model", "version": 1, "name": name, "d_model": 64,
            "input": {"type": "tokens", "vocab_size": 512, "bos_token": 1},
            "norm": "layer", "norm_eps": 1e-5, "gelu": "erf",
            "blocks": [{"mixer": dict(mixer), "post": "glu"},
                       {"mixer": dict(mixer), "post": "glu"}],
            "head": {"type": "next_token", "tie_embeddings": False}}


def write_lines(path, lines):
    with open(path, "w") as f:
        for line in lines:
            f.write(line + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "examples"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    mdir = os.path.join(a.out, "models")
    edir = os.path.join(a.out, "events")
    os.makedirs(edir, exist_ok=True)

    lru_cfg = example_config("reference-lru", {"type": "lru", "d_state": 128})
    att_cfg = example_config("reference-attention",
                             {"type": "attention", "heads": 4, "window": 256,
                              "rope_theta": 10000.0, "logn_base": 512})
    for cfg, seed, kw in ((lru_cfg, 201, {}), (att_cfg, 202, {"attn_bias": [False, False]})):
        model = RM.build_random(cfg, seed, head_bias=True, **kw)
        d = os.path.join(mdir, cfg["name"])
        R.save_model(d, cfg, model.state_dict(), "F32")
        size = os.path.getsize(os.path.join(d, "model.safetensors"))
        assert size <= 1 << 20, (d, size)
        print("%s: %d bytes of weights" % (d, size))

    # sample.jsonl: 8 keys of different lengths (~5,000 events), every event with ts.
    rng = np.random.RandomState(301)
    lengths = [int(x) for x in rng.randint(350, 900, size=len(KEYS))]
    streams = RM.token_streams(302, 512, KEYS, max(lengths))
    streams = {k: streams[k][:n] for k, n in zip(KEYS, lengths)}
    lines = RM.interleave(303, streams, "token", ts_prob=1.0, id_prob=0.15, id_prefix="evt-")
    write_lines(os.path.join(edir, "sample.jsonl"), lines)
    model = R.load_model(os.path.join(mdir, "reference-lru"))
    scores = RM.score_lines(model, lines, with_meta=True)
    write_lines(os.path.join(edir, "sample-expected.jsonl"), [json.dumps(s) for s in scores])
    print("sample.jsonl: %d events over %d keys" % (len(lines), len(KEYS)))

    # bad.jsonl: every invalid kind from EVENTS.md, between valid events.
    ts = RM.TS0 + 10 ** 7
    bad = [
        '{"key": "card-4411", "ts": %d, "token": 17}' % ts,
        '{"key": "card-4411", "ts": %d, "token": 3' % (ts + 1),                 # bad JSON
        '{"ts": %d, "token": 5}' % (ts + 2),                                    # missing key
        '{"key": "card-4411", "ts": %d, "token": 9000}' % (ts + 3),             # out of range
        '{"key": "card-0007", "ts": %d, "token": 42, "id": "evt-ok-1"}' % (ts + 4),
        '{"key": "card-0007", "ts": %d, "features": [0.5, 1.5]}' % (ts + 5),     # features
        '{"key": "card-0007", "ts": %d, "token": "17"}' % (ts + 6),             # string token
        '{"key": "user-alice", "ts": %d, "token": NaN}' % (ts + 7),             # bare NaN
        '',                                                                     # empty line
        '{"key": "user-alice", "ts": %d, "token": 8}' % (ts + 8),
        'not json at all',                                                      # bad JSON
        '{"key": "card-4411", "ts": %d, "token": 18, "id": "evt-ok-2"}' % (ts + 9),
        '{"key": "", "ts": %d, "token": 4}' % (ts + 10),                        # empty key
        '{"key": "card-4411", "ts": %d, "token": -1}' % (ts + 11),              # out of range
        '{"key": "user-alice", "ts": %d, "token": 511}' % (ts + 12),
    ]
    write_lines(os.path.join(edir, "bad.jsonl"), bad)
    n_bad = 0
    for raw in bad:
        try:
            R.parse_event(raw, model)
        except R.EventError:
            n_bad += 1
    print("bad.jsonl: %d lines, %d invalid" % (len(bad), n_bad))


if __name__ == "__main__":
    main()
