"""Inputs of tools/bench/backfill-vs-score.sh: a small LRU model (V=97, H=32, 2 LRU blocks of
N=48, random weights from a fixed seed) and the four event files of issue 19, every key's
events interleaved in time. Deterministic. Usage: backfill_inputs.py OUT_DIR"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import torch  # noqa: E402
import lseq  # noqa: E402

SHAPES = {"2000x200": (2000, 200), "20000x20": (20000, 20), "20x20000": (20, 20000), "2000x1000": (2000, 1000)}


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    cfg = {"format": "lseq-model", "version": 1, "name": "bench-lru", "d_model": 32,
           "input": {"type": "tokens", "vocab_size": 97, "bos_token": 0},
           "blocks": [{"mixer": {"type": "lru", "d_state": 48}, "post": "glu"}] * 2,
           "head": {"type": "next_token"}}
    if not os.path.exists(os.path.join(out, "model", "config.json")):
        lseq.save(lseq.LseqModel(cfg), os.path.join(out, "model"))
    for name, (keys, per_key) in SHAPES.items():
        path = os.path.join(out, name + ".jsonl")
        if os.path.exists(path):
            continue
        rnd = random.Random(1)
        ts = 1732924800000
        with open(path + ".tmp", "w") as f:
            for _ in range(per_key):
                for k in range(keys):
                    f.write('{"key":"k%d","ts":%d,"token":%d}\n' % (k, ts, rnd.randrange(1, 97)))
                    ts += 1
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main(sys.argv[1])
