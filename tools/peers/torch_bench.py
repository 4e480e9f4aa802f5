#!/usr/bin/python3
"""PyTorch step of an lseq LRU model, one thread: events/s at each batch size (keys stepped
together, one event each), eager and TorchScript. The peer that bin/lseq-bench peers runs beside
the engine (it parses the lines that start with "events/s").

    /usr/bin/python3 tools/peers/torch_bench.py --model examples/models/reference-lru --seconds 5 \
        --batches 1 4 16 64 256 --modes eager torchscript
"""

import argparse
import os
import random
import re
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lru_step  # noqa: E402


def blas():
    """What BLAS this torch was built with: a generic one makes a weak peer."""
    cfg = torch.__config__.show()
    m = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
    return m.group(1) if m else "unknown"


def measure(fn, st, tokens, seconds, warmup):
    """Events/s of fn stepping the batch's keys, each call one event per key."""
    batch = st[0].shape[0]
    with torch.inference_mode():
        for i in range(warmup):
            _, *st = fn(tokens[i % len(tokens)], *st)
        n = 0
        t0 = time.perf_counter()
        while True:
            for _ in range(16):
                _, *st = fn(tokens[n % len(tokens)], *st)
                n += 1
            dt = time.perf_counter() - t0
            if dt >= seconds:
                break
    return n * batch / dt


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--batches", type=int, nargs="+", default=[1])
    p.add_argument("--modes", nargs="+", default=["eager"], choices=["eager", "torchscript"])
    p.add_argument("--warmup", type=int, default=200, help="calls before timing")
    a = p.parse_args()
    torch.set_num_threads(1)
    step = lru_step.load(a.model)
    V = step.head_w.shape[0]
    print("torch %s, BLAS %s, 1 thread, inference_mode" % (torch.__version__, blas()))
    for batch in a.batches:
        rnd = random.Random(42)
        tokens = [torch.tensor([rnd.randrange(V) for _ in range(batch)]) for _ in range(256)]
        for mode in a.modes:
            fn = step
            if mode == "torchscript":
                with torch.no_grad():
                    fn = torch.jit.freeze(torch.jit.trace(step.eval(), (tokens[0], *step.initial(batch))))
            eps = measure(fn, step.initial(batch), tokens, a.seconds, a.warmup)
            print("events/s %s %d: %.1f" % (mode, batch, eps))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
