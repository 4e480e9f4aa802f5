#!/usr/bin/python3
"""Forward + backward of an LRU model over B x T tokens: the chunked parallel scan against
a step loop over time (the same model, only the recurrence differs).

    /usr/bin/python3 python/bench/scan_bench.py                 # longrange-lru, 8 x 16384
    /usr/bin/python3 python/bench/scan_bench.py --loop-len 1024 --threads 2

The step loop is timed on --loop-len events per row and extrapolated linearly to T (its
cost is one Python step per event); the scan is timed at both lengths.
"""
import argparse
import ctypes
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import lseq                                     # noqa: E402
from lseq.scan import lru_scan, lru_step_loop   # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def keep_freed_memory():
    """glibc: no mmap for large blocks and no trimming, so a freed 200 MB tensor is reused
    instead of being returned to the OS and page-faulted in again (costly on this sandbox;
    same as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647 in the environment)."""
    libc = ctypes.CDLL("libc.so.6")
    return libc.mallopt(-4, 0) == 1 and libc.mallopt(-1, 2 ** 31 - 1) == 1   # M_MMAP_MAX, M_TRIM_THRESHOLD


def step(model, x):
    t0 = time.perf_counter()
    loss = model.scores(x).mean()
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    model.zero_grad(set_to_none=True)
    return t1 - t0, t2 - t1


def timed(model, x, reps):
    step(model, x)                                   # warm-up
    fw = bw = 0.0
    for _ in range(reps):
        f, b = step(model, x)
        fw += f
        bw += b
    return fw / reps, bw / reps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=os.path.join(REPO, "examples", "models", "longrange-lru",
                                                     "config.json"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--len", type=int, default=16384)
    ap.add_argument("--loop-len", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-malloc-tuning", action="store_true",
                    help="leave glibc's malloc as it is (see keep_freed_memory)")
    a = ap.parse_args()
    tuned = not a.no_malloc_tuning and keep_freed_memory()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.config) as f:
        model = lseq.LseqModel(json.load(f))
    V = model.config["input"]["vocab_size"]
    lrus = [b.mixer for b in model.blocks if b.mixer.__class__.__name__ == "LRU"]
    print("settings: config %s (d_model %d, %s), batch %d, scan len %d, loop len %d, "
          "threads %d, reps %d, malloc tuning %s, torch %s (BLAS: %s)"
          % (os.path.relpath(a.config, REPO), model.config["d_model"],
             ", ".join("%s(%s)" % (b["mixer"]["type"], b["mixer"].get("d_state", ""))
                       for b in model.config["blocks"]),
             a.batch, a.len, a.loop_len, a.threads, a.reps, "on" if tuned else "off",
             torch.__version__,
             "generic" if "BLAS_INFO=generic" in torch.__config__.show() else "see torch config"))
    res = {}
    for name, fn, T, reps in (("scan", lru_scan, a.len, a.reps),
                              ("scan", lru_scan, a.loop_len, a.reps),
                              ("loop", lru_step_loop, a.loop_len, 1)):
        for m in lrus:
            m.scan = fn
        x = torch.randint(0, V, (a.batch, T))
        fw, bw = timed(model, x, reps)
        res[(name, T)] = fw + bw
        print("%-4s B=%d T=%6d: forward %.3f s, backward %.3f s, total %.3f s (%.0f tokens/s)"
              % (name, a.batch, T, fw, bw, fw + bw, a.batch * T / (fw + bw)), flush=True)
    loop_full = res[("loop", a.loop_len)] * a.len / a.loop_len
    print("loop extrapolated to T=%d: %.1f s; scan %.2f s; ratio loop/scan %.0fx "
          "(at T=%d measured: %.0fx)"
          % (a.len, loop_full, res[("scan", a.len)], loop_full / res[("scan", a.len)],
             a.loop_len, res[("loop", a.loop_len)] / res[("scan", a.loop_len)]))


if __name__ == "__main__":
    main()
