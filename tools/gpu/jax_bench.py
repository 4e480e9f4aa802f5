#!/usr/bin/env python3
"""The JAX side of the GPU comparison (issue 4), run on the GPU machine by device-check.sh.

  jax_bench.py scan  [KxTxN,...]        jax.lax.associative_scan of the LRU recurrence, complex64,
                                        effective bandwidth 2 * bytes(u) / time, as GpuBench counts it
  jax_bench.py model DIR [KxT,...]      an lseq LRU model (config.json + model.safetensors) in JAX,
                                        jit + associative_scan over time: tokens/s and the mean score
                                        of the same events GpuBench scores (same token formula)

Matmuls run at 'highest' precision (float32, no TF32), so the mean score is comparable with lseq's.
"""
import json
import math
import struct
import sys
import time

import numpy as np

SCAN_SHAPES = "1x4194304x256,64x65536x256,4096x1024x256"
MODEL_SHAPES = "64x16384,4096x256,1x1048576"
REPS = 5


def timed(fn, *args):
    out = fn(*args)
    jax.block_until_ready(out)
    times = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def combine(x, y):
    a1, b1 = x
    a2, b2 = y
    return a1 * a2, a2 * b1 + b2


def scan_bench(shapes):
    for shape in shapes.split(","):
        k, t, n = (int(v) for v in shape.split("x"))
        rng = np.random.default_rng(1)
        mod = 0.5 + 0.4 * rng.random(n)
        lam = jnp.asarray((mod * np.exp(1j * np.pi * rng.random(n))).astype(np.complex64))
        u = jnp.ones((k, t, n), jnp.complex64) * (1 + 1j)

        @jax.jit
        def run(u):
            a = jnp.broadcast_to(lam, u.shape)
            return jax.lax.associative_scan(combine, (a, u), axis=1)[1]

        try:
            s, h = timed(run, u)
        except Exception as e:  # out of memory on the largest shape is a result too
            print(f"jax scan {shape:16s} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}", flush=True)
            continue
        nbytes = 8 * k * t * n
        want = (1 + 1j) * (1 - np.asarray(lam, np.complex128) ** t) / (1 - np.asarray(lam, np.complex128))
        got = np.asarray(h[0, t - 1], np.complex128)
        err = float(np.max(np.abs(got - want) / np.abs(want)))
        print(f"jax scan {shape:16s} {2 * nbytes / s / 1e9:8.1f} GB/s, {k * t * n / s / 1e9:6.1f} G elements/s "
              f"({s * 1e3:.3f} ms), max rel error {err:.2e}", flush=True)
        del u, h


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        b, e = meta["data_offsets"]
        buf = raw[base + b:base + e]
        if meta["dtype"] == "F32":
            a = np.frombuffer(buf, "<f4")
        elif meta["dtype"] == "F16":
            a = np.frombuffer(buf, "<f2").astype(np.float32)
        elif meta["dtype"] == "BF16":
            a = (np.frombuffer(buf, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name} has dtype {meta['dtype']}")
        out[name] = jnp.asarray(a.reshape(meta["shape"]))
    return out


def model_fn(cfg, w):
    h = cfg["d_model"]
    layer = cfg.get("norm", "layer") == "layer"
    eps = cfg.get("norm_eps", 1e-5)
    tanh = cfg.get("gelu", "erf") == "tanh"

    def norm(x, p):
        if layer:
            mu = x.mean(-1, keepdims=True)
            var = ((x - mu) ** 2).mean(-1, keepdims=True)
            return (x - mu) / jnp.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]
        return x / jnp.sqrt((x * x).mean(-1, keepdims=True) + eps) * w[p + ".weight"]

    def gelu(x):
        return jax.nn.gelu(x, approximate=tanh)

    def lin(x, p, bias=True):
        y = x @ w[p + ".weight"].T
        return y + w[p + ".bias"] if bias else y

    def forward(tokens):
        x = w["embed.weight"][tokens]
        for i, b in enumerate(cfg["blocks"]):
            assert b["mixer"]["type"] == "lru", "LRU blocks only"
            p = f"blocks.{i}."
            m = p + "mixer."
            a = norm(x, p + "norm")
            # lambda from float64 with the Java engine's cap on |lambda|, then complex64: the scan
            # itself is complex64 here, so near |lambda| = 1 the steady state differs from lseq's
            # (double) by up to ~1e-4 relative; compare the mean scores with that in mind.
            nu = np.asarray(w[m + "nu_log"], np.float64)
            mod = np.minimum(np.exp(-np.exp(nu)), 1 - 2.0 ** -40)
            lam = jnp.asarray((mod * np.exp(1j * np.exp(np.asarray(w[m + "theta_log"], np.float64)))).astype(np.complex64))
            gamma = jnp.exp(w[m + "gamma_log"])
            u = ((a @ w[m + "B_re"].T) + 1j * (a @ w[m + "B_im"].T)) * gamma
            hs = jax.lax.associative_scan(combine, (jnp.broadcast_to(lam, u.shape), u.astype(jnp.complex64)), axis=1)[1]
            y = hs.real @ w[m + "C_re"].T - hs.imag @ w[m + "C_im"].T + w[m + "D"] * a
            if b.get("post", "glu") == "glu":
                g = gelu(y)
                x = x + lin(g, p + "out1") * jax.nn.sigmoid(lin(g, p + "out2"))
            else:
                x = x + y
            if "mlp" in b:
                x = x + lin(gelu(lin(norm(x, p + "mlp_norm"), p + "mlp.fc1")), p + "mlp.fc2")
        return x

    inp = cfg["input"]
    head = cfg["head"]
    assert inp["type"] == "tokens" and head["type"] == "next_token", "token models with a next_token head"
    hw = w["embed.weight"] if head.get("tie_embeddings") else w["head.weight"]
    hb = w.get("head.bias")
    bos = inp.get("bos_token")

    @jax.jit
    def score(tokens):
        k, t = tokens.shape
        if bos is not None:  # the BOS is consumed first; event t is scored from the output after event t-1
            ys = forward(jnp.concatenate([jnp.full((k, 1), bos, tokens.dtype), tokens], axis=1))[:, :t]
        else:
            y = forward(tokens)
            ys = jnp.concatenate([jnp.zeros((k, 1, h), y.dtype), y[:, :-1]], axis=1)
        logits = norm(ys, "final_norm") @ hw.T
        if hb is not None:
            logits = logits + hb
        lse = jax.nn.logsumexp(logits, axis=-1)
        return lse - jnp.take_along_axis(logits, tokens[..., None], axis=-1)[..., 0]

    return score


def model_bench(d, shapes):
    cfg = json.load(open(f"{d}/config.json"))
    w = read_safetensors(f"{d}/model.safetensors")
    score = model_fn(cfg, w)
    v = cfg["input"]["vocab_size"]
    for shape in shapes.split(","):
        k, t = (int(x) for x in shape.split("x"))
        kk = np.arange(k, dtype=np.int64)[:, None]
        tt = np.arange(t, dtype=np.int64)[None, :]
        tokens = jnp.asarray(((kk * 7919 + tt * 104729 + (tt * tt) % 97) % v).astype(np.int32))
        try:
            s, out = timed(score, tokens)
        except Exception as e:
            print(f"jax model {shape:12s} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}", flush=True)
            continue
        print(f"jax model {shape:12s} {k * t / s:14,.0f} tokens/s  mean score {float(jnp.mean(out)):.6f}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("scan", "model"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] == "--help" else 2)
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_default_matmul_precision", "highest")
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; {REPS} timed runs after one warm-up, median",
          flush=True)
    if sys.argv[1] == "scan":
        scan_bench(sys.argv[2] if len(sys.argv) > 2 else SCAN_SHAPES)
    else:
        model_bench(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else MODEL_SHAPES)
