#!/usr/bin/python3
"""Long-range streaming task, small trained models, evaluation events and metrics.

    /usr/bin/python3 tools/train/longrange.py train --out examples/models [--only NAME ...]
    /usr/bin/python3 tools/train/longrange.py events --distance D --keys K --seed N --out F.jsonl
    /usr/bin/python3 tools/train/longrange.py score --scores scores.jsonl
    /usr/bin/python3 tools/train/longrange.py eval --model examples/models/longrange-lru \
        --distances 64 256 1024 4096 --keys 40

The task, the models and the metrics are described in tools/train/README.md. Training is
CPU-only, one thread, and deterministic given --seed. The models are exported in the lseq
model format (MODEL_FORMAT.md, plus the "sinks" extension documented in
tools/reference/README.md) through tools/reference/lseq_ref.py's save_model, and every
export is checked against the float64 reference before it is written.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools", "reference"))
import lseq_ref as R          # noqa: E402

# ---------------------------------------------------------------------------------------
# The task
# ---------------------------------------------------------------------------------------

V = 64
BOS = 0
K_MODES = 8
HEADER = 4                      # events 0..3 of a key: the mode token 1 + mode, 4 times
MODE_TOK = 1                    # tokens 1..8
PROBE = 9                       # probe marker
PVAL = 10                       # probe values 10..25
N_PVAL = 16
LOCAL = 26                      # local tokens 26..63
N_LOCAL = V - LOCAL             # 38
P_TOP = 0.45                    # mode m: values 2m and 2m+1 get 0.45 each, the other
                                # 14 share 0.10 uniformly
TASK_SEED = 20261130            # fixes the Markov chain of the local process
# training streams: chance of a probe before each local event, drawn per stream from these
# (dense streams teach what a probe depends on, sparse ones long retention)
TRAIN_PROBE_RATES = (1.0 / 16, 1.0 / 64, 1.0 / 256)


def probe_dist():
    """[K_MODES, N_PVAL] probabilities of probe value PVAL + i under mode m."""
    P = np.full((K_MODES, N_PVAL), (1.0 - 2 * P_TOP) / (N_PVAL - 2))
    for m in range(K_MODES):
        P[m, 2 * m] = P[m, 2 * m + 1] = P_TOP
    return P


def local_chain():
    """[N_LOCAL, N_LOCAL] first-order Markov transition matrix of the local process:
    rows Dirichlet(0.1) (sparse, a window learns it) mixed with 5 % uniform."""
    rng = np.random.RandomState(TASK_SEED)
    T = rng.dirichlet(np.full(N_LOCAL, 0.1), size=N_LOCAL)
    return 0.95 * T + 0.05 / N_LOCAL


PROBE_P = probe_dist()
CHAIN = local_chain()
CHAIN_CUM = np.cumsum(CHAIN, axis=1)
PROBE_CUM = np.cumsum(PROBE_P, axis=1)


def _draw(cum_rows, u):
    """Vectorised categorical draw: index of the first cum >= u per row."""
    return np.minimum((cum_rows < u[:, None]).sum(1), cum_rows.shape[1] - 1)


def train_batch(rng, batch, length):
    """[batch, length] int64 token streams (no BOS), with probe-value flags [batch, length].
    Events 0..3: mode token; then the local chain, and before each local event a probe
    (marker, then a value from the mode's distribution) with chance r, r drawn per stream
    uniformly from TRAIN_PROBE_RATES."""
    modes = rng.randint(K_MODES, size=batch)
    rate = np.asarray(TRAIN_PROBE_RATES)[rng.randint(len(TRAIN_PROBE_RATES), size=batch)]
    out = np.zeros((batch, length), dtype=np.int64)
    is_pval = np.zeros((batch, length), dtype=bool)
    out[:, :HEADER] = (MODE_TOK + modes)[:, None]
    cur = rng.randint(N_LOCAL, size=batch)          # chain state (last local token)
    pending = np.zeros(batch, dtype=bool)           # marker written, value next
    for t in range(HEADER, length):
        u1, u2 = rng.rand(batch), rng.rand(batch)
        nxt = _draw(CHAIN_CUM[cur], u2)
        pv = _draw(PROBE_CUM[modes], u2)
        start = (~pending) & (u1 < rate)
        tok = np.where(pending, PVAL + pv, np.where(start, PROBE, LOCAL + nxt))
        is_pval[:, t] = pending
        adv = (~pending) & (~start)
        cur = np.where(adv, nxt, cur)
        pending = start
        out[:, t] = tok
    return out, is_pval


def eval_stream(rng, distance, anomaly):
    """One key's stream for the evaluation: header (mode m), local events, then a probe
    whose value is event HEADER - 1 + distance (its distance from the last header event);
    the value comes from mode m (normal) or a uniformly chosen other mode (anomaly).
    Returns (tokens, index of the probe value)."""
    assert distance >= 2
    m = int(rng.randint(K_MODES))
    toks = [MODE_TOK + m] * HEADER
    cur = int(rng.randint(N_LOCAL))
    vi = HEADER - 1 + distance
    while len(toks) < vi - 1:
        cur = int(_draw(CHAIN_CUM[[cur]], rng.rand(1))[0])
        toks.append(LOCAL + cur)
    toks.append(PROBE)
    src = m
    if anomaly:
        src = int((m + 1 + rng.randint(K_MODES - 1)) % K_MODES)
    toks.append(PVAL + int(_draw(PROBE_CUM[[src]], rng.rand(1))[0]))
    return toks, vi


def write_events(path, distance, keys, seed):
    """JSON Lines events, keys interleaved at random (each key's order kept). Key i is
    anomalous iff i is odd. Only the probe value carries an id:
    "normal-d<D>-<key>" or "anomaly-d<D>-<key>"."""
    rng = np.random.RandomState(seed)
    streams, probe_at, names = [], [], []
    for i in range(keys):
        toks, vi = eval_stream(rng, distance, anomaly=(i % 2 == 1))
        streams.append(toks)
        probe_at.append(vi)
        names.append("d%d-s%d-k%03d" % (distance, seed, i))
    order = np.concatenate([[i] * len(s) for i, s in enumerate(streams)])
    rng.shuffle(order)
    pos = [0] * keys
    tmp = "%s.tmp-%d" % (path, os.getpid())      # atomic: a concurrent reader never sees
    with open(tmp, "w") as f:                     # a half-written file
        for i in order:
            ev = {"key": names[i], "token": streams[i][pos[i]]}
            if pos[i] == probe_at[i]:
                ev["id"] = "%s-%s" % ("anomaly" if i % 2 else "normal", names[i])
            pos[i] += 1
            f.write(json.dumps(ev) + "\n")
    os.replace(tmp, path)
    return sum(len(s) for s in streams)


def auc(neg, pos):
    """P(score of a positive > score of a negative), ties 1/2 (Mann-Whitney)."""
    if not neg or not pos:
        return float("nan")
    neg = np.asarray(neg)
    return float(np.mean([(p > neg).mean() + 0.5 * (p == neg).mean() for p in pos]))


def score_metrics(path):
    """From a scores JSON Lines file (key, seq, id, score): per distance (parsed from the
    id "normal-d<D>-..." / "anomaly-d<D>-..."), mean surprisal of the normal and anomaly
    probes and the AUC of surprisal separating anomaly (positive) from normal probes."""
    by = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            i = r.get("id")
            if not i or not (i.startswith("normal-") or i.startswith("anomaly-")):
                continue
            kind, dpart = i.split("-")[:2]
            d = int(dpart[1:])
            by.setdefault(d, {"normal": [], "anomaly": []})[kind].append(r["score"])
    out = {}
    for d in sorted(by):
        n, a = by[d]["normal"], by[d]["anomaly"]
        out[d] = {"normal": len(n), "anomaly": len(a),
                  "mean_normal": float(np.mean(n)) if n else float("nan"),
                  "mean_anomaly": float(np.mean(a)) if a else float("nan"),
                  "auc": auc(n, a)}
    return out


# ---------------------------------------------------------------------------------------
# Training modules (float32, batched). Parameter names are exactly the format's.
# ---------------------------------------------------------------------------------------

def rope_tables(T, d, theta, dtype=torch.float32):
    j = torch.arange(d // 2, dtype=torch.float64)
    inv = theta ** (-2.0 * j / d)
    ang = torch.arange(T, dtype=torch.float64).unsqueeze(1) * inv
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def rope_apply(u, cos, sin):
    """u [..., T, d] (or broadcastable); cos/sin [..., T, d/2]."""
    h = u.shape[-1] // 2
    u1, u2 = u[..., :h], u[..., h:]
    return torch.cat([u1 * cos - u2 * sin, u2 * cos + u1 * sin], dim=-1)


class TLRU(nn.Module):
    def __init__(self, H, N, r_min=0.99, r_max=0.9999, max_phase=math.pi / 10, gen=None):
        super().__init__()
        self.N = N
        u1 = torch.rand(N, generator=gen)
        u2 = torch.rand(N, generator=gen)
        nu = -0.5 * torch.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)
        theta = max_phase * u2.clamp_min(1e-4)
        self.nu_log = nn.Parameter(torch.log(nu))
        self.theta_log = nn.Parameter(torch.log(theta))
        self.gamma_log = nn.Parameter(torch.log(torch.sqrt(1 - torch.exp(-nu) ** 2)))
        self.B_re = nn.Parameter(torch.randn(N, H, generator=gen) / math.sqrt(2 * H))
        self.B_im = nn.Parameter(torch.randn(N, H, generator=gen) / math.sqrt(2 * H))
        self.C_re = nn.Parameter(torch.randn(H, N, generator=gen) / math.sqrt(N))
        self.C_im = nn.Parameter(torch.randn(H, N, generator=gen) / math.sqrt(N))
        self.D = nn.Parameter(torch.randn(H, generator=gen))

    def forward(self, a, chunk=32):
        """Chunked scan: within a chunk of C events h_i = sum_k lambda^(i-k) b_k (a C x C
        matrix per state), across chunks a carry h_i += lambda^(i+1) h_end(previous)."""
        Bsz, T, H = a.shape
        loglam = torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log))   # [N]
        Bc = torch.complex(self.B_re, self.B_im) * torch.exp(self.gamma_log).unsqueeze(1)
        bu = torch.einsum("bth,nh->btn", a.to(torch.complex64), Bc)               # [B,T,N]
        pad = (-T) % chunk
        if pad:
            bu = torch.cat([bu, bu.new_zeros(Bsz, pad, self.N)], 1)
        nc = bu.shape[1] // chunk
        bu = bu.view(Bsz, nc, chunk, self.N)
        i = torch.arange(chunk)
        diff = (i.unsqueeze(1) - i.unsqueeze(0))                                   # i - k
        mask = (diff >= 0)
        P = torch.exp(diff.clamp_min(0).to(torch.float32).unsqueeze(-1) * loglam)  # [C,C,N]
        P = P * mask.unsqueeze(-1)
        # local part as one batched matmul over the N states: [N, C, C] @ [N, C, B*nc]
        bn = bu.permute(3, 2, 0, 1).reshape(self.N, chunk, Bsz * nc)
        hl = torch.bmm(P.permute(2, 0, 1), bn).reshape(self.N, chunk, Bsz, nc) \
            .permute(2, 3, 1, 0)                                                   # [B,nc,C,N]
        lp = torch.exp((i + 1).to(torch.float32).unsqueeze(-1) * loglam)           # [C,N]
        hs, carry = [], bu.new_zeros(Bsz, self.N)
        for hlc in hl.unbind(1):          # unbind: no full-size zero fill per chunk backward
            hc = hlc + lp.unsqueeze(0) * carry.unsqueeze(1)
            hs.append(hc)
            carry = hc[:, -1]
        h = torch.stack(hs, 1).reshape(Bsz, nc * chunk, self.N)[:, :T]
        C = torch.complex(self.C_re, self.C_im)
        return torch.einsum("btn,hn->bth", h, C).real + self.D * a


class TGRU(nn.GRU):
    def __init__(self, H, N):
        super().__init__(H, N, batch_first=True)

    def forward(self, a):
        return nn.GRU.forward(self, a)[0]


def _local_attention(q, k, v, W, logn, sinks, k_sink_rot=None, v_sink=None, sink_vis=None):
    """q, k: [B, h, T, d] rotated at own positions; v: [B, h, T, dv]. Window W: the query
    block c (size W) attends to key blocks c-1 and c. Optional sink columns:
    k_sink_rot [B, h, T, S, d] (rotated per query row), v_sink [B, h, S, dv],
    sink_vis [T, S]."""
    Bsz, nh, T, d = q.shape
    dv = v.shape[-1]
    assert T % W == 0
    nc = T // W
    kp = torch.cat([k.new_zeros(Bsz, nh, W, d), k], 2)
    vp = torch.cat([v.new_zeros(Bsz, nh, W, dv), v], 2)
    kb = kp.unfold(2, 2 * W, W).transpose(-1, -2)                        # [B,h,nc,2W,d]
    vb = vp.unfold(2, 2 * W, W).transpose(-1, -2)
    qb = q.view(Bsz, nh, nc, W, d)
    sc = torch.einsum("bhcid,bhckd->bhcik", qb, kb) / math.sqrt(d)
    i = torch.arange(W).unsqueeze(1)
    kk = torch.arange(2 * W).unsqueeze(0)
    vis = (kk <= W + i) & (kk >= i + 1)                                    # [W, 2W]
    vis = vis.unsqueeze(0).repeat(nc, 1, 1)
    vis[0, :, :W] = False
    t = torch.arange(T)
    n = torch.clamp(t + 1, max=W)
    if sinks:
        S = k_sink_rot.shape[3]
        ss = torch.einsum("bhtd,bhtsd->bhts", q, k_sink_rot) / math.sqrt(d)
        sc = torch.cat([sc, ss.view(Bsz, nh, nc, W, S)], -1)
        vis = torch.cat([vis, sink_vis.view(nc, W, S)], -1)
        n = n + sink_vis.sum(1)
    scale = torch.clamp(torch.log(n.float()) / math.log(logn), min=1.0) if logn else \
        torch.ones(T)
    bias = torch.zeros(vis.shape).masked_fill(~vis, float("-inf"))       # no grad needed
    sc = sc * scale.view(nc, W, 1) + bias
    A = torch.softmax(sc, -1)
    out = torch.einsum("bhcik,bhckd->bhcid", A[..., :2 * W], vb)
    if sinks:
        out = out + torch.einsum("bhcis,bhsd->bhcid", A[..., 2 * W:], v_sink)
    return out.reshape(Bsz, nh, T, dv)


def _sink_rows(T, W, S):
    """Per query row t: sink_vis [T, S] (sink j outside the window, j < w0) and the
    position sink j is rotated at, j + max(0, w0 - S) (lseq_ref._sink_layout)."""
    t = torch.arange(T).unsqueeze(1)
    j = torch.arange(S).unsqueeze(0)
    w0 = torch.clamp(t - W + 1, min=0)
    return (j < w0), j + torch.clamp(w0 - S, min=0)


class TAttention(nn.Module):
    def __init__(self, H, heads, W, theta, logn, sinks=0):
        super().__init__()
        self.h, self.d, self.W, self.theta, self.logn, self.sinks = \
            heads, H // heads, W, theta, logn, sinks
        self.q = nn.Linear(H, H, bias=False)
        self.k = nn.Linear(H, H, bias=False)
        self.v = nn.Linear(H, H, bias=False)
        self.o = nn.Linear(H, H, bias=False)

    def forward(self, a):
        Bsz, T, H = a.shape
        sp = lambda x: x.view(Bsz, T, self.h, self.d).transpose(1, 2)       # [B,h,T,d]
        cos, sin = rope_tables(T, self.d, self.theta)
        q, kr, v = sp(self.q(a)), sp(self.k(a)), sp(self.v(a))
        qr, k = rope_apply(q, cos, sin), rope_apply(kr, cos, sin)
        extra = {}
        if self.sinks:
            S = self.sinks
            sv, sp_pos = _sink_rows(T, self.W, S)
            ks = rope_apply(kr[:, :, :S].unsqueeze(2), cos[sp_pos], sin[sp_pos])  # [B,h,T,S,d]
            extra = dict(k_sink_rot=ks, v_sink=v[:, :, :S], sink_vis=sv)
        out = _local_attention(qr, k, v, self.W, self.logn, self.sinks, **extra)
        return self.o(out.transpose(1, 2).reshape(Bsz, T, H))


class TGAU(nn.Module):
    def __init__(self, H, expansion, key_size, W, theta, logn, sinks=0):
        super().__init__()
        assert sinks == 0, "training GAU with sinks is not implemented"
        self.E, self.S, self.W, self.theta, self.logn, self.sinks = \
            expansion * H, key_size, W, theta, logn, sinks
        self.i_dense = nn.Linear(H, 2 * self.E + key_size)
        self.q_scale = nn.Parameter(torch.ones(key_size))
        self.q_offset = nn.Parameter(torch.zeros(key_size))
        self.k_scale = nn.Parameter(torch.ones(key_size))
        self.k_offset = nn.Parameter(torch.zeros(key_size))
        self.o_dense = nn.Linear(self.E, H)

    def forward(self, a):
        Bsz, T, H = a.shape
        u, v, z = torch.split(F.silu(self.i_dense(a)), [self.E, self.E, self.S], -1)
        cos, sin = rope_tables(T, self.S, self.theta)
        q = rope_apply(z * self.q_scale + self.q_offset, cos, sin).unsqueeze(1)
        kr = (z * self.k_scale + self.k_offset).unsqueeze(1)
        k = rope_apply(kr, cos, sin)
        out = _local_attention(q, k, v.unsqueeze(1), self.W, self.logn, 0)[:, 0]
        return self.o_dense(u * out)


class TBlock(nn.Module):
    def __init__(self, H, mixer, post, mlp_hidden=None):
        super().__init__()
        self.norm = nn.LayerNorm(H)
        self.mixer = mixer
        self.post = post
        M = mixer.hidden_size if isinstance(mixer, nn.GRU) else H
        if post == "glu":
            self.out1 = nn.Linear(M, H)
            self.out2 = nn.Linear(M, H)
        self.has_mlp = mlp_hidden is not None
        if self.has_mlp:
            self.mlp_norm = nn.LayerNorm(H)
            self.mlp = nn.Module()
            self.mlp.fc1 = nn.Linear(H, mlp_hidden)
            self.mlp.fc2 = nn.Linear(mlp_hidden, H)

    def forward(self, x):
        m = self.mixer(self.norm(x))
        if self.post == "glu":
            g = F.gelu(m)
            m = self.out1(g) * torch.sigmoid(self.out2(g))
        x = x + m
        if self.has_mlp:
            x = x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.mlp_norm(x))))
        return x


class TModel(nn.Module):
    def __init__(self, config, gen):
        super().__init__()
        H = config["d_model"]
        self.embed = nn.Embedding(V, H)
        nn.init.normal_(self.embed.weight, std=1.0)
        blocks = []
        for b in config["blocks"]:
            m = b["mixer"]
            if m["type"] == "lru":
                mx = TLRU(H, m["d_state"], gen=gen)
            elif m["type"] == "gru":
                mx = TGRU(H, m["d_state"])
            elif m["type"] == "attention":
                mx = TAttention(H, m["heads"], m["window"], m["rope_theta"], m.get("logn_base"),
                                m.get("sinks", 0))
            else:
                mx = TGAU(H, m["expansion"], m["key_size"], m["window"], m["rope_theta"],
                          m["logn_base"], m.get("sinks", 0))
            blocks.append(TBlock(H, mx, b.get("post", "glu"), (b.get("mlp") or {}).get("hidden")))
        self.blocks = nn.ModuleList(blocks)
        self.final_norm = nn.LayerNorm(H)
        self.head = nn.Linear(H, V)

    def forward(self, tokens):
        x = self.embed(tokens)
        for b in self.blocks:
            x = b(x)
        return self.head(self.final_norm(x))


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------

H = 64


def _cfg(name, blocks):
    return {"format": "lseq-model", "version": 1, "name": name, "d_model": H,
            "input": {"type": "tokens", "vocab_size": V, "bos_token": BOS},
            "norm": "layer", "norm_eps": 1e-5, "gelu": "erf", "blocks": blocks,
            "head": {"type": "next_token", "tie_embeddings": False}}


def _attn(sinks=0):
    m = {"type": "attention", "heads": 4, "window": 64, "rope_theta": 10000.0, "logn_base": 32}
    if sinks:
        m["sinks"] = sinks
    return {"mixer": m, "post": "none", "mlp": {"hidden": 128}}


_GAU = {"mixer": {"type": "gau", "expansion": 2, "key_size": 32, "window": 64,
                  "rope_theta": 10000.0, "logn_base": 32}, "post": "glu"}

MODELS = {
    "longrange-lru": _cfg("longrange-lru", [{"mixer": {"type": "lru", "d_state": 96},
                                             "post": "glu"}] * 2),
    "longrange-gru": _cfg("longrange-gru", [{"mixer": {"type": "gru", "d_state": 64},
                                             "post": "glu"}] * 2),
    "longrange-attention": _cfg("longrange-attention", [_attn(), _attn()]),
    "longrange-gau": _cfg("longrange-gau", [_GAU, _GAU]),
    "longrange-attention-sinks": _cfg("longrange-attention-sinks", [_attn(4), _attn(4)]),
}

# phases: (fraction of the steps, events per stream, streams per batch); 4,096 events a step
TRAIN = dict(seed=1234, steps=500, phases=[(0.5, 256, 16), (0.5, 1024, 4)], lr=3e-3,
             warmup=30, weight_decay=0.0, clip=1.0, probe_weight=1.0)


def export_state(tm):
    """Training state_dict -> format tensor names (identical but for the mlp container)."""
    return {k: v.detach().to(torch.float64) for k, v in tm.state_dict().items()}


def check_export(directory, tm, rng_seed=7):
    """Reloads the export with the float64 reference and compares surprisals with the
    training module (float32) on one fresh training stream; returns the max abs diff."""
    ref = R.load_model(directory)
    toks, _ = train_batch(np.random.RandomState(rng_seed), 1, 300)
    vals = [int(x) for x in toks[0]]
    want = [r["score"] for r in R.score_stream_batch(ref, vals)]
    sc = R.StreamScorer(ref)
    step = [sc.score("k", token=v)["score"] for v in vals[:150]]
    with torch.no_grad():
        inp = torch.tensor([[BOS] + vals[:-1]])
        lp = torch.log_softmax(tm(F.pad(inp, (0, (-inp.shape[1]) % 64), value=0))[0], -1)
        got = [-float(lp[t, v]) for t, v in enumerate(vals)]
    return max(abs(a - b) for a, b in zip(got, want)), max(abs(a - b) for a, b in zip(step, want))


def train_one(name, out_root, seed=None, steps=None, log=print, phases=None):
    cfg = MODELS[name]
    p = json.loads(json.dumps(TRAIN))
    if seed is not None:
        p["seed"] = seed
    if steps is not None:
        p["steps"] = steps
    if phases is not None:
        p["phases"] = phases
    torch.manual_seed(p["seed"])
    gen = torch.Generator().manual_seed(p["seed"])
    tm = TModel(cfg, gen)
    nparams = sum(x.numel() for x in tm.parameters())
    opt = torch.optim.AdamW(tm.parameters(), lr=p["lr"], weight_decay=p["weight_decay"],
                            betas=(0.9, 0.98))
    rng = np.random.RandomState(p["seed"] + 1)
    t0 = time.time()
    hist = []
    for step in range(p["steps"]):
        lr = p["lr"] * min(1.0, (step + 1) / p["warmup"]) * \
            0.5 * (1 + math.cos(math.pi * step / p["steps"]))
        for g in opt.param_groups:
            g["lr"] = lr
        acc = 0.0
        for frac, length, batch in p["phases"]:
            acc += frac
            if step < acc * p["steps"]:
                break
        toks, isp = train_batch(rng, batch, length)
        x = torch.from_numpy(np.concatenate([np.full((batch, 1), BOS), toks[:, :-1]], 1))
        y = torch.from_numpy(toks)
        logits = tm(x)
        ce = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="none")
        ce = ce.view(batch, -1)
        pv = torch.from_numpy(isp)
        loss_tok = ce.mean()
        loss_probe = ce[pv].mean()
        loss = loss_tok + p["probe_weight"] * loss_probe
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tm.parameters(), p["clip"])
        opt.step()
        hist.append((float(loss_tok), float(loss_probe)))
        if step % 25 == 0 or step == p["steps"] - 1:
            log("%s step %4d  lr %.2e  token loss %.4f  probe-value loss %.4f  %.0fs"
                % (name, step, lr, float(loss_tok), float(loss_probe), time.time() - t0))
    secs = time.time() - t0
    last = hist[-25:]
    final = (float(np.mean([a for a, _ in last])), float(np.mean([b for _, b in last])))
    d = os.path.join(out_root, name)
    R.save_model(d, cfg, export_state(tm), "F32")
    diff_batch, diff_step = check_export(d, tm)
    info = {"model": name, "params": nparams, "train": p, "seconds": round(secs, 1),
            "final_token_loss": round(final[0], 4), "final_probe_loss": round(final[1], 4),
            "export_check_max_abs_diff_f32_vs_ref": diff_batch,
            "ref_step_vs_batch_max_abs_diff": diff_step,
            "bytes": os.path.getsize(os.path.join(d, "model.safetensors"))}
    log(json.dumps(info))
    assert diff_batch < 1e-3 and diff_step < 1e-9, info
    return info


# ---------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------

def load_fast(model_dir):
    """The exported model as a batched float32 training module (same tensor names)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    tm = TModel(cfg, torch.Generator().manual_seed(0))
    sd = R.read_safetensors(os.path.join(model_dir, "model.safetensors"))
    tm.load_state_dict({k: v.to(torch.float32) for k, v in sd.items()}, strict=True)
    return tm.eval()


@torch.no_grad()
def fast_score_file(tm, in_path, out_path, batch=32):
    """Same output as lseq_ref.score_file (key, seq, id?, score) for a BOS tokens model,
    computed per key on whole streams in float32 batches: a quick, non-reference scorer
    for large evaluations (cross-checked against the reference in README.md)."""
    evs, streams = [], {}
    with open(in_path) as f:
        for line in f:
            e = json.loads(line)
            st = streams.setdefault(e["key"], [])
            evs.append((e["key"], len(st), e.get("id")))
            st.append(e["token"])
    surpr = {}
    keys = sorted(streams, key=lambda k: len(streams[k]))
    for b in range(0, len(keys), batch):
        ks = keys[b:b + batch]
        T = max(len(streams[k]) for k in ks)
        Tp = T + (-T) % 64
        x = torch.zeros(len(ks), Tp, dtype=torch.long)
        for i, k in enumerate(ks):
            toks = streams[k]
            x[i, 0] = BOS
            x[i, 1:len(toks)] = torch.tensor(toks[:-1])
        lp = torch.log_softmax(tm(x), -1)
        for i, k in enumerate(ks):
            toks = torch.tensor(streams[k])
            surpr[k] = (-lp[i, torch.arange(len(toks)), toks]).tolist()
    with open(out_path, "w") as f:
        for k, seq, i in evs:
            rec = {"key": k, "seq": seq}
            if i is not None:
                rec["id"] = i
            rec["score"] = surpr[k][seq]
            f.write(json.dumps(rec) + "\n")


def eval_model(model_dir, distances, keys, seed, work, engine="ref"):
    os.makedirs(work, exist_ok=True)
    model = R.load_model(model_dir) if engine == "ref" else load_fast(model_dir)
    res = {}
    for D in distances:
        ev = os.path.join(work, "events-d%d-k%d-s%d.jsonl" % (D, keys, seed))
        write_events(ev, D, keys, seed)
        sc = os.path.join(work, "scores-%s-%s-d%d-k%d-s%d.jsonl"
                          % (engine, os.path.basename(model_dir.rstrip("/")), D, keys, seed))
        if engine == "ref":
            R.score_file(model, ev, sc)
        else:
            fast_score_file(model, ev, sc)
        res.update(score_metrics(sc))
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", default=os.path.join(REPO, "examples", "models"))
    t.add_argument("--only", nargs="*")
    t.add_argument("--seed", type=int)
    t.add_argument("--steps", type=int)
    e = sub.add_parser("events")
    e.add_argument("--distance", type=int, required=True)
    e.add_argument("--keys", type=int, required=True)
    e.add_argument("--seed", type=int, required=True)
    e.add_argument("--out", required=True)
    s = sub.add_parser("score")
    s.add_argument("--scores", required=True)
    v = sub.add_parser("eval")
    v.add_argument("--model", required=True, nargs="+")
    v.add_argument("--distances", type=int, nargs="+", default=[64, 256, 1024, 4096])
    v.add_argument("--keys", type=int, default=40)
    v.add_argument("--seed", type=int, default=1)
    v.add_argument("--work", default="/tmp/longrange-eval")
    v.add_argument("--engine", choices=["ref", "fast"], default="ref",
                   help="ref: lseq_ref.score_file, float64, event by event (the reference); "
                        "fast: the training module in float32 on whole streams")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.cmd == "train":
        names = a.only or list(MODELS)
        for n in names:
            train_one(n, a.out, a.seed, a.steps)
    elif a.cmd == "events":
        n = write_events(a.out, a.distance, a.keys, a.seed)
        print("wrote %d events, %d keys, %d probes" % (n, a.keys, a.keys), file=sys.stderr)
    elif a.cmd == "score":
        print(json.dumps(score_metrics(a.scores)))
    else:
        for m in a.model:
            t0 = time.time()
            res = eval_model(m, a.distances, a.keys, a.seed, a.work, a.engine)
            for d, r in res.items():
                print("%-28s D=%5d  normal %3d mean %.3f  anomaly %3d mean %.3f  AUC %.3f"
                      % (os.path.basename(m.rstrip("/")), d, r["normal"], r["mean_normal"],
                         r["anomaly"], r["mean_anomaly"], r["auc"]), flush=True)
            print("  (%.0fs)" % (time.time() - t0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
