"""Random (but realistic) weights and synthetic event streams for goldens and examples.

Deterministic: everything is drawn from explicit torch.Generator / numpy RandomState seeds.
"""

import gzip
import json
import math

import numpy as np
import torch
import torch.nn as nn

import lseq_ref as R

TS0 = 1732924800000   # 2024-11-30T00:00:00Z in epoch ms


def init_model(model, seed, head_gain=2.0, qk_gain=2.0, embed_std=1.0, lru=None):
    """Overwrites every parameter of `model` (an R.LseqModel) in place.

    - Linear layers: PyTorch's default range, U(+-1/sqrt(fan_in)) for weight and bias.
    - norms: weight 1 + N(0, 0.1^2), bias N(0, 0.1^2) (so the affine part matters).
    - embed: N(0, embed_std^2). head.weight: N(0, (head_gain/sqrt(H))^2), so logits of a
      unit-variance final_norm output have std ~head_gain; head.bias N(0, 0.2^2).
    - attention q/k weights multiplied by qk_gain (scores of std ~1, not near-uniform).
    - GRU/LSTM: PyTorch default U(+-1/sqrt(N)).
    - LRU (Orvieto et al. 2023): |lambda| uniform on the ring [r_min, r_max] (uniform in
      |lambda|^2), theta uniform in [0, max_phase], gamma_log = log(sqrt(1-|lambda|^2)),
      B ~ N(0, 1/(2H)) for re and im, C ~ N(0, 1/N) for re and im, D ~ N(0, 1).
      `lru` maps block index -> (r_min, r_max, max_phase); default (0.5, 0.99, 2*pi).
    - GAU: i_dense x1.5, q/k scale N(1, 0.3^2), offsets N(0, 0.1^2).
    """
    g = torch.Generator().manual_seed(seed)
    dt = torch.float64
    H = model.H
    lru = lru or {}

    def U(shape, bound):
        return (torch.rand(shape, generator=g, dtype=dt) * 2 - 1) * bound

    def N(shape, std):
        return torch.randn(shape, generator=g, dtype=dt) * std

    def init_linear(lin, gain=1.0):
        b = 1.0 / math.sqrt(lin.in_features)
        lin.weight.copy_(U(lin.weight.shape, b) * gain)
        if lin.bias is not None:
            lin.bias.copy_(U(lin.bias.shape, b))

    def init_norm(n):
        n.weight.copy_(1.0 + N(n.weight.shape, 0.1))
        if n.kind == "layer":
            n.bias.copy_(N(n.bias.shape, 0.1))

    with torch.no_grad():
        if model.input_type == "tokens":
            model.embed.weight.copy_(N(model.embed.weight.shape, embed_std))
        else:
            init_linear(model.input_proj)
        for i, blk in enumerate(model.blocks):
            init_norm(blk.norm)
            mx = blk.mixer
            if isinstance(mx, R.LRU):
                r_min, r_max, max_phase = lru.get(i, (0.5, 0.99, 2 * math.pi))
                u1 = torch.rand(mx.N, generator=g, dtype=dt)
                u2 = torch.rand(mx.N, generator=g, dtype=dt)
                nu = -0.5 * torch.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)
                theta = max_phase * u2.clamp_min(1e-6)
                mx.nu_log.copy_(torch.log(nu))
                mx.theta_log.copy_(torch.log(theta))
                mod = torch.exp(-nu)
                mx.gamma_log.copy_(torch.log(torch.sqrt(1 - mod ** 2)))
                mx.B_re.copy_(N((mx.N, H), 1 / math.sqrt(2 * H)))
                mx.B_im.copy_(N((mx.N, H), 1 / math.sqrt(2 * H)))
                mx.C_re.copy_(N((H, mx.N), 1 / math.sqrt(mx.N)))
                mx.C_im.copy_(N((H, mx.N), 1 / math.sqrt(mx.N)))
                mx.D.copy_(N(H, 1.0))
            elif isinstance(mx, (R.GRUMixer, R.LSTMMixer)):
                b = 1.0 / math.sqrt(mx.hidden_size)
                for p in mx.parameters():
                    p.copy_(U(p.shape, b))
            elif isinstance(mx, R.Attention):
                init_linear(mx.q, qk_gain)
                init_linear(mx.k, qk_gain)
                init_linear(mx.v)
                init_linear(mx.o)
            elif isinstance(mx, R.GAU):
                init_linear(mx.i_dense, 1.5)
                mx.q_scale.copy_(1.0 + N(mx.S, 0.3))
                mx.k_scale.copy_(1.0 + N(mx.S, 0.3))
                mx.q_offset.copy_(N(mx.S, 0.1))
                mx.k_offset.copy_(N(mx.S, 0.1))
                init_linear(mx.o_dense)
            if blk.post == "glu":
                init_linear(blk.out1)
                init_linear(blk.out2)
            if blk.has_mlp:
                init_norm(blk.mlp_norm)
                init_linear(blk.mlp.fc1)
                init_linear(blk.mlp.fc2)
        init_norm(model.final_norm)
        if model.head.weight is not None:
            model.head.weight.copy_(N(model.head.weight.shape, head_gain / math.sqrt(H)))
        if model.head.bias is not None:
            model.head.bias.copy_(N(model.head.bias.shape, 0.2))
    return model


def token_streams(seed, vocab, keys, n_per_key, alpha=0.1, noise=0.1):
    """Per key, a Markov chain over tokens (shared sparse-ish Dirichlet(alpha) transition
    rows) with `noise` probability of a uniform random token."""
    rng = np.random.RandomState(seed)
    trans = rng.dirichlet(np.full(vocab, alpha), size=vocab)
    cum = np.cumsum(trans, axis=1)
    out = {}
    for k in keys:
        cur = rng.randint(vocab)
        seq = []
        for _ in range(n_per_key):
            if rng.rand() < noise:
                cur = rng.randint(vocab)
            else:
                cur = min(int(np.searchsorted(cum[cur], rng.rand(), side="right")), vocab - 1)
            seq.append(cur)
        out[k] = seq
    return out


def feature_streams(seed, dim, keys, n_per_key, decimals=4):
    """Per key, an AR(1) process f = 0.8 f + 0.6 N(0, 1) + per-key offset, rounded."""
    rng = np.random.RandomState(seed)
    out = {}
    for k in keys:
        offset = rng.normal(0, 0.5, dim)
        f = rng.normal(0, 1, dim)
        seq = []
        for _ in range(n_per_key):
            f = 0.8 * f + 0.6 * rng.normal(0, 1, dim)
            seq.append([round(float(x), decimals) for x in f + offset])
        out[k] = seq
    return out


def interleave(seed, streams, field, ts_prob=0.7, id_prob=0.1, id_prefix="evt-"):
    """Random interleaving of per-key streams (each key's order kept); returns the JSON
    Lines text lines. `ts` increases along the file and is present with ts_prob; `id` is
    present with id_prob."""
    rng = np.random.RandomState(seed)
    keys = list(streams)
    order = np.concatenate([[i] * len(streams[k]) for i, k in enumerate(keys)])
    rng.shuffle(order)
    pos = [0] * len(keys)
    ts = TS0
    lines = []
    for n, i in enumerate(order):
        k = keys[i]
        ts += int(rng.randint(1, 2000))
        ev = {"key": k}
        if rng.rand() < ts_prob:
            ev["ts"] = ts
        ev[field] = streams[k][pos[i]]
        pos[i] += 1
        if rng.rand() < id_prob:
            ev["id"] = "%s%06d" % (id_prefix, n)
        lines.append(json.dumps(ev))
    return lines


def write_gz_lines(path, lines):
    """Deterministic gzip (no name, mtime 0)."""
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            for line in lines:
                f.write((line + "\n").encode("utf-8"))


def score_lines(model, lines, with_meta=False):
    """Scores event lines (all must be valid) in order; returns score dicts."""
    scorer = R.StreamScorer(model)
    out = []
    for raw in lines:
        ev = R.parse_event(raw, model)
        kw = {"token": ev["value"]} if model.input_type == "tokens" else {"features": ev["value"]}
        r = scorer.score(ev["key"], **kw)
        rec = {"key": ev["key"], "seq": r["seq"]}
        if with_meta:
            if "ts" in ev:
                rec["ts"] = ev["ts"]
            if "id" in ev:
                rec["id"] = ev["id"]
            rec["model"] = model.config["name"]
        rec.update({k: v for k, v in r.items() if k != "seq"})
        out.append(rec)
    return out


def build_random(config, seed, attn_bias=None, head_bias=None, **init_kw):
    model = R.LseqModel(config, attn_bias=attn_bias, head_bias=head_bias)
    return init_model(model, seed, **init_kw)
