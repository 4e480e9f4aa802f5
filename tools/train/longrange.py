#!/usr/bin/python3
"""Long-range streaming task, small trained models, evaluation events and metrics.

    /usr/bin/python3 tools/train/longrange.py train --out examples/models [--only NAME ...]
    /usr/bin/python3 tools/train/longrange.py events --distance D --keys K --seed N --out F.jsonl
    /usr/bin/python3 tools/train/longrange.py score --scores scores.jsonl
    /usr/bin/python3 tools/train/longrange.py eval --model examples/models/longrange-lru \
        --distances 64 256 1024 4096 --keys 40

The task, the models and the metrics are described in tools/train/README.md. Training is
CPU-only, one thread, and deterministic given --seed. The models are built, trained and
exported with the lseq Python package (python/: lseq.LseqModel, lseq.save; the "sinks"
extension included), and every export is checked against the independent float64
reference (tools/reference/lseq_ref.py) after it is written.
"""

import argparse
import bisect
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
try:                          # the installed package (pip install ./python), else the checkout's
    import lseq
except ImportError:
    sys.path.insert(0, os.path.join(REPO, "python"))
    import lseq
from lseq.events import score_streams                      # noqa: E402
sys.path.insert(0, os.path.join(REPO, "tools", "reference"))
import lseq_ref as R          # noqa: E402  (independent check of the exports, eval --engine ref)

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


_CHAIN_CUM_L = [list(r) for r in CHAIN_CUM]
_PROBE_CUM_L = [list(r) for r in PROBE_CUM]


def _draw1(cum_row, u):
    """One categorical draw, the same as _draw(cum[[row]], [u])[0] (the count of cum < u),
    in plain Python: the evaluation streams draw one event at a time."""
    return min(bisect.bisect_left(cum_row, u), len(cum_row) - 1)


def train_batch(rng, batch, length, gap_prob=0.0, gap_min=32):
    """[batch, length] int64 token streams (no BOS), with probe-value flags [batch, length].
    Events 0..3: mode token; then the local chain, and before each local event a probe
    (marker, then a value from the mode's distribution) with chance r, r drawn per stream
    uniformly from TRAIN_PROBE_RATES.

    gap_prob > 0 (the LRU recipe): with that chance a stream is shaped like the evaluation
    at its start: no probe before event HEADER + g, g log-uniform in [gap_min, length], so
    its first probe value sits at a random distance of up to the stream's length from the
    header (and a stream with g near the length has one probe or none). Returns a third
    array then: flags of each stream's first probe value after such a gap. gap_prob = 0
    draws exactly what the earlier versions drew."""
    modes = rng.randint(K_MODES, size=batch)
    rate = np.asarray(TRAIN_PROBE_RATES)[rng.randint(len(TRAIN_PROBE_RATES), size=batch)]
    out = np.zeros((batch, length), dtype=np.int64)
    is_pval = np.zeros((batch, length), dtype=bool)
    out[:, :HEADER] = (MODE_TOK + modes)[:, None]
    cur = rng.randint(N_LOCAL, size=batch)          # chain state (last local token)
    pending = np.zeros(batch, dtype=bool)           # marker written, value next
    if gap_prob > 0:
        has_gap = rng.rand(batch) < gap_prob
        g = np.exp(rng.uniform(math.log(gap_min), math.log(length), size=batch)).astype(np.int64)
        quiet_until = np.where(has_gap, HEADER + g, 0)
        first = np.zeros((batch, length), dtype=bool)
        seen = ~has_gap                             # first probe after the gap not yet seen
    for t in range(HEADER, length):
        u1, u2 = rng.rand(batch), rng.rand(batch)
        nxt = _draw(CHAIN_CUM[cur], u2)
        pv = _draw(PROBE_CUM[modes], u2)
        start = (~pending) & (u1 < rate)
        if gap_prob > 0:
            # the first probe after a gap starts right when the gap ends (at a random
            # distance from the header); no probe starts inside the gap
            start = (~pending) & np.where(t < quiet_until, False,
                                          np.where(seen, u1 < rate, True))
            first[:, t] = pending & ~seen
            seen = seen | (pending & ~seen)
        tok = np.where(pending, PVAL + pv, np.where(start, PROBE, LOCAL + nxt))
        is_pval[:, t] = pending
        adv = (~pending) & (~start)
        cur = np.where(adv, nxt, cur)
        pending = start
        out[:, t] = tok
    if gap_prob > 0:
        return out, is_pval, first
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
        cur = _draw1(_CHAIN_CUM_L[cur], rng.rand())
        toks.append(LOCAL + cur)
    toks.append(PROBE)
    src = m
    if anomaly:
        src = int((m + 1 + rng.randint(K_MODES - 1)) % K_MODES)
    toks.append(PVAL + _draw1(_PROBE_CUM_L[src], rng.rand()))
    return toks, vi


# ---------------------------------------------------------------------------------------
# The second task: mode switches (tools/train/README.md, "The switch task")
# ---------------------------------------------------------------------------------------

SWITCH_RATES = (0.0, 1.0 / 256, 1.0 / 1024, 1.0 / 4096)   # training: chance of a switch
                                                          # before each local event
EVAL_SWITCHES = (1, 2)          # evaluation: switches per key
EVAL_SEGMENT = (32, 1024)       # evaluation: local events before each switch (uniform)


def switch_batch(rng, batch, length, gap_prob=0.5, gap_min=32):
    """Training streams of the switch task: as train_batch, and before each local event a
    switch starts with chance s (s per stream from SWITCH_RATES): HEADER events of the
    mode token of a new mode (uniform among the other 7), after which probes follow the
    new mode. After the header and after every switch, with chance gap_prob no probe
    starts for g events (g log-uniform in [gap_min, length]); the first probe value after
    such a gap is flagged. Returns (tokens, probe-value flags, first-after-gap flags)."""
    modes = rng.randint(K_MODES, size=batch)
    rate = np.asarray(TRAIN_PROBE_RATES)[rng.randint(len(TRAIN_PROBE_RATES), size=batch)]
    srate = np.asarray(SWITCH_RATES)[rng.randint(len(SWITCH_RATES), size=batch)]
    out = np.zeros((batch, length), dtype=np.int64)
    is_pval = np.zeros((batch, length), dtype=bool)
    first = np.zeros((batch, length), dtype=bool)
    out[:, :HEADER] = (MODE_TOK + modes)[:, None]
    cur = rng.randint(N_LOCAL, size=batch)
    pending = np.zeros(batch, dtype=bool)
    sw_left = np.zeros(batch, dtype=np.int64)       # mode tokens of a switch still to write
    lg_min, lg_max = math.log(gap_min), math.log(length)

    def new_gap(t, mask):
        has = mask & (rng.rand(batch) < gap_prob)
        g = np.exp(rng.uniform(lg_min, lg_max, size=batch)).astype(np.int64)
        return has, t + g

    gapped, quiet_until = new_gap(HEADER, np.ones(batch, dtype=bool))
    for t in range(HEADER, length):
        u1, u2, u3 = rng.rand(batch), rng.rand(batch), rng.rand(batch)
        nxt = _draw(CHAIN_CUM[cur], u2)
        pv = _draw(PROBE_CUM[modes], u2)
        in_sw = sw_left > 0
        sw_start = (~in_sw) & (~pending) & (u3 < srate)
        newm = (modes + 1 + rng.randint(K_MODES - 1, size=batch)) % K_MODES
        modes = np.where(sw_start, newm, modes)
        sw_left = np.where(sw_start, HEADER, sw_left)
        in_sw = sw_left > 0
        free = (~in_sw) & (~pending)
        start = free & (t >= quiet_until) & (np.where(gapped, True, u1 < rate))
        tok = np.where(in_sw, MODE_TOK + modes,
                       np.where(pending, PVAL + pv, np.where(start, PROBE, LOCAL + nxt)))
        is_pval[:, t] = pending
        first[:, t] = pending & gapped
        gapped = gapped & ~pending
        adv = free & ~start
        cur = np.where(adv, nxt, cur)
        pending = start
        sw_left = np.where(in_sw, sw_left - 1, sw_left)
        ended = in_sw & (sw_left == 0)              # a switch's last mode token: new gap?
        if ended.any():
            g2, q2 = new_gap(t + 1, ended)
            gapped = np.where(ended, g2, gapped)
            quiet_until = np.where(ended, q2, quiet_until)
        out[:, t] = tok
    return out, is_pval, first


def eval_switch_stream(rng, distance, anomaly):
    """One key's stream for the switch task's evaluation: the header (mode m0), then 1 or 2
    switches (EVAL_SWITCHES), each after EVAL_SEGMENT local events and each to a mode
    other than the current one; after the last switch (mode m) local events, then a probe
    whose value is `distance` events after the last switch's last mode token. Its value
    comes from m (normal) or a uniformly chosen mode other than m (anomaly). The stream's
    first events never tell m: m differs from m0. Returns (tokens, index of the value)."""
    assert distance >= 2
    m = int(rng.randint(K_MODES))
    toks = [MODE_TOK + m] * HEADER
    cur = int(rng.randint(N_LOCAL))
    for _ in range(int(EVAL_SWITCHES[rng.randint(len(EVAL_SWITCHES))])):
        for _ in range(int(rng.randint(EVAL_SEGMENT[0], EVAL_SEGMENT[1] + 1))):
            cur = _draw1(_CHAIN_CUM_L[cur], rng.rand())
            toks.append(LOCAL + cur)
        m = int((m + 1 + rng.randint(K_MODES - 1)) % K_MODES)
        toks.extend([MODE_TOK + m] * HEADER)
    vi = len(toks) - 1 + distance
    while len(toks) < vi - 1:
        cur = _draw1(_CHAIN_CUM_L[cur], rng.rand())
        toks.append(LOCAL + cur)
    toks.append(PROBE)
    src = m
    if anomaly:
        src = int((m + 1 + rng.randint(K_MODES - 1)) % K_MODES)
    toks.append(PVAL + _draw1(_PROBE_CUM_L[src], rng.rand()))
    return toks, vi


def write_events(path, distance, keys, seed, task="header"):
    """JSON Lines events, keys interleaved at random (each key's order kept). Key i is
    anomalous iff i is odd. Only the probe value carries an id:
    "normal-d<D>-<key>" or "anomaly-d<D>-<key>"."""
    rng = np.random.RandomState(seed)
    streams, probe_at, names = [], [], []
    gen = eval_stream if task == "header" else eval_switch_stream
    tag = "" if task == "header" else "sw-"          # switch-task keys: d<D>-sw-s<seed>-k<i>
    for i in range(keys):
        toks, vi = gen(rng, distance, anomaly=(i % 2 == 1))
        streams.append(toks)
        probe_at.append(vi)
        names.append("d%d-%ss%d-k%03d" % (distance, tag, seed, i))
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


# LRU init for this task: |lambda| on the ring [0.99, 0.9999], phase in [0, pi/10]
LRU_INIT = dict(r_min=0.99, r_max=0.9999, max_phase=math.pi / 10)

# The long-memory recipe of longrange-lru (issue 20; tools/train/README.md, "longrange-lru"):
# phases are (fraction of the steps, events per stream, streams per batch, chance of an
# evaluation-shaped gap, least gap); the LRU's nu_log/theta_log/gamma_log train at
# lambda_lr_scale x lr without weight decay; probe values weigh probe_weight, and each
# stream's first probe value after a gap weighs first_probe_weight more (its own mean).
TRAIN_LRU = dict(seed=1234, steps=550,
                 phases=[(150 / 550, 256, 16, 0.5, 32), (150 / 550, 1024, 4, 0.5, 32),
                         (150 / 550, 4096, 1, 0.5, 64), (100 / 550, 16896, 1, 0.75, 1024)],
                 lr=3e-3, warmup=30, weight_decay=0.0, clip=1.0, probe_weight=2.0,
                 first_probe_weight=2.0, lambda_lr_scale=0.5,
                 init=dict(slow=64, slow_nu=(1e-5, 5e-4), slow_phase=(1e-6, 2e-4),
                           fast_r=(0.90, 0.999), fast_phase=math.pi / 10, seed=4321))
TRAINS = {"longrange-lru": TRAIN_LRU}
# Stage 2 of longrange-lru: continues from stage 1's export (train --only longrange-lru
# --stage 2 --init-from DIR) on 16,896-event streams only, most of them evaluation-shaped.
TRAIN_LRU_STAGE2 = dict(seed=2234, steps=120, phases=[(1.0, 16896, 1, 0.75, 256)], lr=1e-3,
                        warmup=10, lr_floor=0.1, weight_decay=0.0, clip=1.0, probe_weight=2.0,
                        first_probe_weight=2.0, lambda_lr_scale=0.5)
# Stage 3: from stage 2's export, 100 more steps whose gaps are 4,096 .. 16,896 events.
TRAIN_LRU_STAGE3 = dict(TRAIN_LRU_STAGE2, seed=3234, steps=100,
                        phases=[(1.0, 16896, 1, 0.9, 4096)])
# Stage 3b (--stage 4), after stage 3 diverged: 3x lower lr, gaps 2,048 .. 16,896 in 3/4 of
# the streams.
TRAIN_LRU_STAGE3B = dict(TRAIN_LRU_STAGE2, seed=4234, steps=100, lr=3e-4,
                         phases=[(1.0, 16896, 1, 0.75, 2048)])
# Stage 4 (--stage 5): from stage 3b's export, stage 3b's settings again with fresh data.
TRAIN_LRU_STAGE4 = dict(TRAIN_LRU_STAGE3B, seed=5234)
# Stage 5 (--stage 6): from stage 4's export, the same settings with fresh data.
TRAIN_LRU_STAGE5 = dict(TRAIN_LRU_STAGE3B, seed=6234)
# Stage 5b (--stage 7): from stage 4's export (stage 5 lost at 16,384), 2 streams a step
# and a lower lr against the noise of one-stream steps.
TRAIN_LRU_STAGE5B = dict(TRAIN_LRU_STAGE3B, seed=7234, steps=80, lr=2e-4,
                         phases=[(1.0, 16896, 2, 0.75, 2048)])
# Stage 5c (--stage 8): from stage 4's export; the lambda parameters at 5x lr (1.5e-3: at
# 0.5x they hardly move in 100 steps) and gaps of 4,096 .. 16,896 events.
TRAIN_LRU_STAGE5C = dict(TRAIN_LRU_STAGE3B, seed=8234, lambda_lr_scale=5.0,
                         phases=[(1.0, 16896, 1, 0.75, 4096)])
# Stage 6 (--stage 9): from stage 5c's export, stage 5c's settings with fresh data.
TRAIN_LRU_STAGE6 = dict(TRAIN_LRU_STAGE5C, seed=9234)
# Stage 7 (--stage 10): from stage 6's export, stage 5c's settings with fresh data.
TRAIN_LRU_STAGE7 = dict(TRAIN_LRU_STAGE5C, seed=10234)
STAGES = {2: TRAIN_LRU_STAGE2, 3: TRAIN_LRU_STAGE3, 4: TRAIN_LRU_STAGE3B, 5: TRAIN_LRU_STAGE4,
          6: TRAIN_LRU_STAGE5, 7: TRAIN_LRU_STAGE5B,
          8: TRAIN_LRU_STAGE5C, 9: TRAIN_LRU_STAGE6,
          10: TRAIN_LRU_STAGE7}
# The second recipe (run 2 in tools/train/README.md): fewer short steps, 150 steps of
# 16,896-event streams, the cosine decaying to 10 % of lr instead of 0.
TRAIN_LRU2 = dict(json.loads(json.dumps(TRAIN_LRU)), steps=500, lr_floor=0.1,
                  phases=[(100 / 500, 256, 16, 0.5, 32), (100 / 500, 1024, 4, 0.5, 32),
                          (150 / 500, 4096, 1, 0.5, 64), (150 / 500, 16896, 1, 0.75, 1024)])

# The switch task's models (tools/train/README.md, "The switch task"): the same five
# architectures, trained on switch_batch streams ("task": "switch"); the LRU with its
# recipe up to 16k-event streams, the others with TRAIN's two phases.
SWITCH_KINDS = ("lru", "gru", "attention", "gau", "attention-sinks")
for _k in SWITCH_KINDS:
    _c = json.loads(json.dumps(MODELS["longrange-" + _k]))
    _c["name"] = "longrange-switch-" + _k
    MODELS[_c["name"]] = _c
    if _k == "lru":
        TRAINS[_c["name"]] = dict(json.loads(json.dumps(TRAIN_LRU2)), task="switch")
    else:
        TRAINS[_c["name"]] = dict(json.loads(json.dumps(TRAIN)), task="switch",
                                  phases=[(0.5, 256, 16, 0.5, 32), (0.5, 1024, 4, 0.5, 32)],
                                  probe_weight=2.0, first_probe_weight=2.0)
LAMBDA_PARAMS = ("nu_log", "theta_log", "gamma_log")


@torch.no_grad()
def lru_recipe_init(tm, init):
    """Re-draws every LRU layer's lambda (and gamma) from its own generator: the first
    init["slow"] states nearly real and slow (nu = -log|lambda| log-uniform in slow_nu,
    phase log-uniform in slow_phase), the others on the ring fast_r (uniform in
    |lambda|^2) with phase uniform in [0, fast_phase]; gamma_log = log sqrt(1 - |lambda|^2)."""
    gen = torch.Generator().manual_seed(init["seed"])
    for blk in tm.blocks:
        mx = blk.mixer
        if not hasattr(mx, "nu_log"):
            continue
        N, S = mx.nu_log.numel(), init["slow"]
        def logu(lo, hi, n):
            return torch.exp(math.log(lo) + (math.log(hi) - math.log(lo))
                             * torch.rand(n, generator=gen, dtype=torch.float64))
        nu_s = logu(*init["slow_nu"], S)
        th_s = logu(*init["slow_phase"], S)
        r0, r1 = init["fast_r"]
        u = torch.rand(N - S, generator=gen, dtype=torch.float64)
        nu_f = -0.5 * torch.log(u * (r1 ** 2 - r0 ** 2) + r0 ** 2)
        th_f = (init["fast_phase"] * torch.rand(N - S, generator=gen,
                                                dtype=torch.float64)).clamp_min(1e-6)
        nu, th = torch.cat([nu_s, nu_f]), torch.cat([th_s, th_f])
        mx.nu_log.copy_(torch.log(nu))
        mx.theta_log.copy_(torch.log(th))
        mx.gamma_log.copy_(torch.log(torch.sqrt(-torch.expm1(-2 * nu))))


def check_export(directory, tm, rng_seed=7):
    """Reloads the export with the float64 reference and compares surprisals with the
    training module (float32) on one fresh training stream; returns the max abs diffs
    (package vs reference batch path, reference step vs batch path)."""
    ref = R.load_model(directory)
    toks, _ = train_batch(np.random.RandomState(rng_seed), 1, 300)
    vals = [int(x) for x in toks[0]]
    want = [r["score"] for r in R.score_stream_batch(ref, vals)]
    sc = R.StreamScorer(ref)
    step = [sc.score("k", token=v)["score"] for v in vals[:150]]
    with torch.no_grad():
        got = tm.scores(torch.tensor([vals]))[0].tolist()
    return max(abs(a - b) for a, b in zip(got, want)), max(abs(a - b) for a, b in zip(step, want))


def train_one(name, out_root, seed=None, steps=None, log=print, phases=None, stage=1,
              init_from=None):
    cfg = MODELS[name]
    p = json.loads(json.dumps(TRAINS.get(name, TRAIN) if stage == 1 else STAGES[stage]))
    if seed is not None:
        p["seed"] = seed
    if steps is not None:
        p["steps"] = steps
    if phases is not None:
        p["phases"] = phases
    torch.manual_seed(p["seed"])
    tm = lseq.LseqModel(cfg, lru_init=LRU_INIT)
    if "init" in p:
        lru_recipe_init(tm, p["init"])
    if init_from is not None:                      # stage 2: start from an export
        tm.load_state_dict(lseq.load(init_from).state_dict())
        p["init_from"] = init_from
    nparams = sum(x.numel() for x in tm.parameters())
    scale = p.get("lambda_lr_scale", 1.0)
    lam = [x for n, x in tm.named_parameters() if n.rsplit(".", 1)[-1] in LAMBDA_PARAMS]
    rest = [x for n, x in tm.named_parameters() if n.rsplit(".", 1)[-1] not in LAMBDA_PARAMS]
    groups = [{"params": rest, "weight_decay": p["weight_decay"], "lr_scale": 1.0}]
    if lam:
        groups.append({"params": lam, "weight_decay": 0.0, "lr_scale": scale})
    opt = torch.optim.AdamW(groups, lr=p["lr"], betas=(0.9, 0.98))
    rng = np.random.RandomState(p["seed"] + 1)
    t0 = time.time()
    hist, firsts = [], []
    for step in range(p["steps"]):
        floor = p.get("lr_floor", 0.0)             # cosine decay to floor x lr (0: to 0)
        lr = p["lr"] * min(1.0, (step + 1) / p["warmup"]) * \
            (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * step / p["steps"])))
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        acc = 0.0
        for ph in p["phases"]:
            acc += ph[0]
            if step < acc * p["steps"] - 1e-9:
                break
        length, batch = ph[1], ph[2]
        first = None
        if p.get("task") == "switch":
            toks, isp, first = switch_batch(rng, batch, length, ph[3], ph[4])
        elif len(ph) > 3 and ph[3] > 0:
            toks, isp, first = train_batch(rng, batch, length, ph[3], ph[4])
        else:
            toks, isp = train_batch(rng, batch, length)
        ce = tm.scores(torch.from_numpy(toks))       # [batch, length] surprisals; BOS first
        pv = torch.from_numpy(isp)
        loss_tok = ce.mean()
        loss_probe = ce[pv].mean() if isp.any() else ce.sum() * 0
        loss = loss_tok + p["probe_weight"] * loss_probe
        if first is not None and first.any():
            loss = loss + p["first_probe_weight"] * ce[torch.from_numpy(first)].mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tm.parameters(), p["clip"])
        opt.step()
        hist.append((float(loss_tok), float(loss_probe)))
        if first is not None and first.any():
            fd = np.nonzero(first)[1] - (HEADER - 1)          # distances from the header
            fce = ce[torch.from_numpy(first)].detach().numpy()
            firsts.extend(zip(fd.tolist(), fce.tolist()))
        if step % 25 == 0 or step == p["steps"] - 1:
            extra = ""
            if firsts:
                rec = firsts[-16:]
                extra = "  first-probe loss %.3f (last %d, mean distance %.0f)" % (
                    np.mean([c for _, c in rec]), len(rec), np.mean([d for d, _ in rec]))
            log("%s step %4d  T %5d  lr %.2e  token loss %.4f  probe-value loss %.4f%s  %.0fs"
                % (name, step, length, lr, float(loss_tok), float(loss_probe), extra,
                   time.time() - t0))
    secs = time.time() - t0
    last = hist[-25:]
    final = (float(np.mean([a for a, _ in last])), float(np.mean([b for _, b in last])))
    d = os.path.join(out_root, name)
    lseq.save(tm, d, "F32")
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

@torch.no_grad()
def fast_score_file(tm, in_path, out_path):
    """Same output as lseq_ref.score_file (key, seq, id?, score), computed per key on whole
    streams in float32 batches by the package (lseq.LseqModel.scores): a quick,
    non-reference scorer for large evaluations (cross-checked against the reference in
    README.md)."""
    evs, streams = [], {}
    with open(in_path) as f:
        for line in f:
            e = json.loads(line)
            st = streams.setdefault(e["key"], [])
            evs.append((e["key"], len(st), e.get("id")))
            st.append(e["token"])
    surpr = score_streams(tm, streams)
    with open(out_path, "w") as f:
        for k, seq, i in evs:
            rec = {"key": k, "seq": seq}
            if i is not None:
                rec["id"] = i
            rec["score"] = float(surpr[k][seq])
            f.write(json.dumps(rec) + "\n")


def eval_model(model_dir, distances, keys, seed, work, engine="ref", task="header"):
    os.makedirs(work, exist_ok=True)
    model = R.load_model(model_dir) if engine == "ref" else lseq.load(model_dir).eval()
    res = {}
    t = "" if task == "header" else "switch-"
    for D in distances:
        ev = os.path.join(work, "%sevents-d%d-k%d-s%d.jsonl" % (t, D, keys, seed))
        write_events(ev, D, keys, seed, task)
        sc = os.path.join(work, "%sscores-%s-%s-d%d-k%d-s%d.jsonl"
                          % (t, engine, os.path.basename(model_dir.rstrip("/")), D, keys, seed))
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
    t.add_argument("--stage", type=int, default=1, choices=[1] + sorted(STAGES),
                   help="2 ..: longrange-lru's later stages (STAGES: 2 TRAIN_LRU_STAGE2, 3 _STAGE3, "
                        "4 _STAGE3B, 5 _STAGE4, 6 _STAGE5, 7 _STAGE5B, 8 _STAGE5C, 9 _STAGE6, "
                        "10 _STAGE7), from --init-from")
    t.add_argument("--init-from", help="a model directory to start from (stage 2)")
    e = sub.add_parser("events")
    e.add_argument("--distance", type=int, required=True)
    e.add_argument("--keys", type=int, required=True)
    e.add_argument("--seed", type=int, required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--task", choices=["header", "switch"], default="header",
                   help="header: the mode in the first events (the first task); switch: "
                        "the mode switches, distance from the last switch")
    s = sub.add_parser("score")
    s.add_argument("--scores", required=True)
    v = sub.add_parser("eval")
    v.add_argument("--model", required=True, nargs="+")
    v.add_argument("--distances", type=int, nargs="+", default=[64, 256, 1024, 4096])
    v.add_argument("--keys", type=int, default=40)
    v.add_argument("--seed", type=int, default=1)
    v.add_argument("--work", default="/tmp/longrange-eval")
    v.add_argument("--task", choices=["header", "switch"], default="header")
    v.add_argument("--engine", choices=["ref", "fast"], default="ref",
                   help="ref: lseq_ref.score_file, float64, event by event (the reference); "
                        "fast: the lseq package in float32 on whole streams")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.cmd == "train":
        names = a.only or list(MODELS)
        for n in names:
            train_one(n, a.out, a.seed, a.steps, stage=a.stage, init_from=a.init_from)
    elif a.cmd == "events":
        n = write_events(a.out, a.distance, a.keys, a.seed, a.task)
        print("wrote %d events, %d keys, %d probes" % (n, a.keys, a.keys), file=sys.stderr)
    elif a.cmd == "score":
        print(json.dumps(score_metrics(a.scores)))
    else:
        for m in a.model:
            t0 = time.time()
            res = eval_model(m, a.distances, a.keys, a.seed, a.work, a.engine, a.task)
            for d, r in res.items():
                print("%-28s D=%5d  normal %3d mean %.3f  anomaly %3d mean %.3f  AUC %.3f"
                      % (os.path.basename(m.rstrip("/")), d, r["normal"], r["mean_normal"],
                         r["anomaly"], r["mean_anomaly"], r["auc"]), flush=True)
            print("  (%.0fs)" % (time.time() - t0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
