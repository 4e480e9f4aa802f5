#!/usr/bin/python3
"""PyTorch eager step of an lseq LRU model, batch 1, one thread: events/s. The peer that
bin/lseq-bench peers runs beside the engine (it parses the last line).

    /usr/bin/python3 tools/peers/torch_bench.py --model examples/models/reference-lru --seconds 5
"""

import argparse
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lru_step  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=int, default=1000, help="events stepped before timing")
    a = p.parse_args()
    torch.set_num_threads(1)
    step = lru_step.load(a.model)
    V = step.head_w.shape[0]
    rnd = random.Random(42)
    tokens = [torch.tensor([rnd.randrange(V)]) for _ in range(4096)]
    st = step.initial()
    with torch.inference_mode():
        for i in range(a.warmup):
            _, *st = step(tokens[i % 4096], *st)
        n = 0
        t0 = time.perf_counter()
        while True:
            for _ in range(256):
                _, *st = step(tokens[n % 4096], *st)
                n += 1
            dt = time.perf_counter() - t0
            if dt >= a.seconds:
                break
    print("torch %s, 1 thread, eager, inference_mode" % torch.__version__)
    print("events/s: %.1f" % (n / dt))


if __name__ == "__main__":
    main()
