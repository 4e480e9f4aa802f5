#!/usr/bin/python3
"""Forward + backward of an LRU model over B x T tokens: the chunked parallel scan against
a step loop over time (the same model, only the recurrence differs).

    /usr/bin/python3 python/bench/scan_bench.py                 # longrange-lru, 8 x 16384
    /usr/bin/python3 python/bench/scan_bench.py --len 4096 --reps 3 --threads 2

Times are CPU seconds of this process (time.process_time), the wall time beside them.

Both run at T (--len); with --loop-len L < T the step loop is timed on L events per row
instead and extrapolated linearly to T (one Python step per event). The step loop is
lseq.scan.lru_step_loop: h = lambda * h + b_t over b.unbind(time), float64, autograd
through every step.
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


def indexed_loop(loglam, b):
    """The step loop as it is often first written, indexing b[:, t] in the loop: its
    backward writes a full-size zero gradient per step, so it grows as T^2."""
    lam = torch.exp(loglam)
    h = torch.zeros(b.shape[:-2] + b.shape[-1:], dtype=b.dtype)
    out = []
    for t in range(b.shape[-2]):
        h = lam * h + b[..., t, :]
        out.append(h)
    return torch.stack(out, -2)


def keep_freed_memory():
    """glibc: no mmap for large blocks and no trimming, so a freed 200 MB tensor is reused
    instead of being returned to the OS and page-faulted in again (costly on this sandbox;
    same as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647 in the environment)."""
    libc = ctypes.CDLL("libc.so.6")
    return libc.mallopt(-4, 0) == 1 and libc.mallopt(-1, 2 ** 31 - 1) == 1   # M_MMAP_MAX, M_TRIM_THRESHOLD


def step(model, x):
    """One forward + backward; returns ((forward, backward) CPU seconds of this process,
    wall seconds). CPU time is what the numbers use: on a shared machine the wall time
    mostly measures the other processes."""
    c0, w0 = time.process_time(), time.perf_counter()
    loss = model.scores(x).mean()
    c1 = time.process_time()
    loss.backward()
    c2, w2 = time.process_time(), time.perf_counter()
    model.zero_grad(set_to_none=True)
    return (c1 - c0, c2 - c1), w2 - w0


def recurrence(a, N):
    """lru_scan against lru_step_loop alone: h over [batch, len, N] complex128, forward and
    backward (a random cotangent), |lambda| in [0.9, 0.9999]."""
    g = torch.Generator().manual_seed(0)
    mod = torch.linspace(0.9, 0.9999, N, dtype=torch.float64)
    ll = torch.complex(torch.log(mod), torch.rand(N, generator=g, dtype=torch.float64))
    ll.requires_grad_()
    b = torch.randn(a.batch, a.len, N, dtype=torch.complex128, generator=g, requires_grad=True)
    ct = torch.randn(a.batch, a.len, N, dtype=torch.complex128, generator=g)
    best = {}
    for rnd in range(a.reps + 1):                   # round 0 warms up
        for name, fn in (("scan", lru_scan), ("loop", lru_step_loop)):
            c0 = time.process_time()
            h = fn(ll, b)
            c1 = time.process_time()
            torch.autograd.backward(h, ct)
            c2 = time.process_time()
            ll.grad = b.grad = None
            if rnd:
                print("%-4s recurrence B=%d T=%d N=%d: CPU forward %.2f s, backward %.2f s"
                      % (name, a.batch, a.len, N, c1 - c0, c2 - c1), flush=True)
                best[name] = min(best.get(name, 1e9), c2 - c0)
    print("best of %d (CPU s): scan %.2f s, step loop %.2f s, ratio loop/scan %.2f"
          % (a.reps, best["scan"], best["loop"], best["loop"] / best["scan"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=os.path.join(REPO, "examples", "models", "longrange-lru",
                                                     "config.json"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--len", type=int, default=16384)
    ap.add_argument("--loop-len", type=int, default=0, help="time the loop on fewer events")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--recurrence-only", action="store_true",
                    help="time only the recurrence (lru_scan vs lru_step_loop on random "
                         "inputs of the model's d_state, with backward), not the model")
    ap.add_argument("--naive-lens", type=int, nargs="*", default=[512, 1024],
                    help="also time indexed_loop at these lengths (once each)")
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
    print("settings: config %s (d_model %d, %s), batch %d, len %d, loop len %d, "
          "threads %d, reps %d, malloc tuning %s, torch %s (BLAS: %s)"
          % (os.path.relpath(a.config, REPO), model.config["d_model"],
             ", ".join("%s(%s)" % (b["mixer"]["type"], b["mixer"].get("d_state", ""))
                       for b in model.config["blocks"]),
             a.batch, a.len, a.loop_len or a.len, a.threads, a.reps, "on" if tuned else "off",
             torch.__version__,
             "generic" if "BLAS_INFO=generic" in torch.__config__.show() else "see torch config"))
    if a.recurrence_only:
        return recurrence(a, lrus[0].N)
    res = {}
    loop_len = a.loop_len or a.len
    x_full = torch.randint(0, V, (a.batch, a.len))
    x_loop = x_full[:, :loop_len]
    for rnd in range(a.reps):                       # interleaved: contention hits both alike
        for name, fn, x in (("scan", lru_scan, x_full), ("loop", lru_step_loop, x_loop)):
            for m in lrus:
                m.scan = fn
            if rnd == 0:
                step(model, x[:, :256])             # warm-up
            (fw, bw), wall = step(model, x)
            res.setdefault(name, []).append((fw, bw))
            print("%-4s round %d B=%d T=%6d: CPU forward %.2f s, backward %.2f s, total %.2f s "
                  "(wall %.2f s)" % (name, rnd, a.batch, x.shape[1], fw, bw, fw + bw, wall),
                  flush=True)
    for T in a.naive_lens:
        for m in lrus:
            m.scan = indexed_loop
        (fw, bw), wall = step(model, x_full[:, :T])
        for m in lrus:
            m.scan = lru_scan
        (sf, sb), _ = step(model, x_full[:, :T])
        print("indexed loop B=%d T=%6d: CPU forward %.2f s, backward %.2f s, total %.2f s; "
              "scan at this T %.2f s: ratio %.1f" % (a.batch, T, fw, bw, fw + bw, sf + sb,
                                                      (fw + bw) / (sf + sb)), flush=True)
    best = {k: min(f + b for f, b in v) for k, v in res.items()}
    loop_full = best["loop"] * a.len / loop_len
    print("best of %d (CPU s): scan %.2f s (%.0f tokens/s); step loop %.2f s%s; "
          "ratio loop/scan %.2f"
          % (a.reps, best["scan"], a.batch * a.len / best["scan"], loop_full,
             "" if loop_len == a.len else " (extrapolated from T=%d)" % loop_len,
             loop_full / best["scan"]))


if __name__ == "__main__":
    main()
