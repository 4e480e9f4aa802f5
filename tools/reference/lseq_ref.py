#!/usr/bin/python3
"""Independent float64 PyTorch reference for lseq (MODEL_FORMAT.md / EVENTS.md, version 1).

Everything here follows /work/shared/MODEL_FORMAT.md literally; where the page leaves a
choice open, the choice is written next to the code as "RESOLVED:".

Library use:
    model = load_model("path/to/model")            # config.json + model.safetensors -> float64
    scorer = StreamScorer(model)
    scorer.score("k0", token=17)                    # -> {"seq": 0, "score": 4.15...}
    save_model(dir, config, state_dict, "F32")      # F32 | F16 | BF16

CLI (used by humans to cross-check the Java engine):
    /usr/bin/python3 tools/reference/lseq_ref.py score --model DIR --input events.jsonl \
        --output scores.jsonl [--dead-letter rejected.jsonl] [--dtype float64|float32]

Needs only torch (>= 1.12, for gelu(approximate="tanh")) and numpy.
"""

import argparse
import gzip
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPE = torch.float64
MAX_HEADER_BYTES = 100 * 1000 * 1000   # "a header over 100 MB" is rejected
MAX_RECORD_BYTES = 1 << 20             # EVENTS.md: a record over 1 MiB is rejected
RAW_CUT_BYTES = 4 << 10                # EVENTS.md: raw cut at 4 KiB


class ModelFormatError(ValueError):
    """A model directory that does not follow MODEL_FORMAT.md."""


class EventError(ValueError):
    """An input record that is not a valid event (EVENTS.md)."""


# ---------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------

def gelu(x, kind):
    # "erf" = exact GELU (PyTorch default), "tanh" = tanh approximation (JAX default).
    return F.gelu(x, approximate="none" if kind == "erf" else "tanh")


def rope(u, pos, theta):
    """Half-split RoPE on the last axis (size d, even).

    u: [..., d]; pos: tensor broadcastable to u.shape[:-1] (absolute positions).
    rope(u, pos) = [u1*cos - u2*sin, u2*cos + u1*sin], angles pos * theta^(-2j/d), j < d/2.
    """
    d = u.shape[-1]
    half = d // 2
    j = torch.arange(half, dtype=u.dtype)
    inv_freq = torch.pow(torch.tensor(float(theta), dtype=u.dtype), -2.0 * j / d)
    pos = torch.as_tensor(pos, dtype=u.dtype)
    ang = pos.unsqueeze(-1) * inv_freq                   # [..., d/2]
    cos, sin = torch.cos(ang), torch.sin(ang)
    u1, u2 = u[..., :half], u[..., half:]
    return torch.cat([u1 * cos - u2 * sin, u2 * cos + u1 * sin], dim=-1)


def logn_scale(n, base):
    """max(1, ln(n) / ln(T0)); n = number of visible positions (self included)."""
    if base is None:
        return 1.0
    return max(1.0, math.log(n) / math.log(base))


class Norm(nn.Module):
    """norm "layer": (x - mean) / sqrt(var + eps) * weight + bias, var biased (population),
    exactly torch.nn.LayerNorm. norm "rms": x / sqrt(mean(x^2) + eps) * weight.
    RESOLVED: the page names the norms without formulas; these are the standard
    PyTorch LayerNorm and the (T5/LLaMA) RMSNorm with eps inside the square root."""

    def __init__(self, kind, H, eps):
        super().__init__()
        self.kind, self.eps = kind, eps
        self.weight = nn.Parameter(torch.ones(H, dtype=DTYPE))
        if kind == "layer":
            self.bias = nn.Parameter(torch.zeros(H, dtype=DTYPE))

    def forward(self, x):
        if self.kind == "layer":
            mu = x.mean(-1, keepdim=True)
            var = ((x - mu) ** 2).mean(-1, keepdim=True)
            return (x - mu) / torch.sqrt(var + self.eps) * self.weight + self.bias
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * self.weight


def linear(n_in, n_out, bias=True):
    return nn.Linear(n_in, n_out, bias=bias, dtype=DTYPE)


# ---------------------------------------------------------------------------------------
# Mixers. Each has out_dim, init_state(), step(a, state, pos) -> (m, state) for one event
# at absolute position pos, and forward_seq(a[T, H], pos0) -> m[T, M] for a whole stream
# that starts at position pos0 (used by the self-checks as an independent batch path).
# ---------------------------------------------------------------------------------------

class LRU(nn.Module):
    def __init__(self, H, N):
        super().__init__()
        self.H, self.N, self.out_dim = H, N, H
        z = lambda *s: nn.Parameter(torch.zeros(*s, dtype=DTYPE))
        self.nu_log, self.theta_log, self.gamma_log = z(N), z(N), z(N)
        self.B_re, self.B_im = z(N, H), z(N, H)
        self.C_re, self.C_im = z(H, N), z(H, N)
        self.D = z(H)

    def coefficients(self):
        # lambda = exp(-exp(nu_log) + i * exp(theta_log))
        lam = torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
        B = torch.complex(self.B_re, self.B_im)
        C = torch.complex(self.C_re, self.C_im)
        return lam, torch.exp(self.gamma_log), B, C

    def init_state(self):
        cdt = torch.complex128 if self.D.dtype == torch.float64 else torch.complex64
        return torch.zeros(self.N, dtype=cdt)

    def step(self, a, h, pos):
        lam, g, B, C = self.coefficients()
        h = lam * h + g * (B @ a.to(B.dtype))
        m = (C @ h).real + self.D * a
        return m, h

    def forward_seq(self, a, pos0=0):
        h = self.init_state()
        out = []
        for t in range(a.shape[0]):
            m, h = self.step(a[t], h, pos0 + t)
            out.append(m)
        return torch.stack(out)


class GRUMixer(nn.GRU):
    """Exactly torch.nn.GRU(H, N): weight_ih_l0 [3N, H], weight_hh_l0 [3N, N], biases."""

    def __init__(self, H, N):
        super().__init__(H, N, dtype=DTYPE)
        self.out_dim = N

    def init_state(self):
        return torch.zeros(1, 1, self.hidden_size, dtype=self.weight_ih_l0.dtype)

    def step(self, a, h, pos):
        out, h = nn.GRU.forward(self, a.view(1, 1, -1), h)
        return out.view(-1), h

    def forward_seq(self, a, pos0=0):
        out, _ = nn.GRU.forward(self, a.unsqueeze(1), self.init_state())
        return out[:, 0, :]


class LSTMMixer(nn.LSTM):
    """Exactly torch.nn.LSTM(H, N): same names with 4N rows, gates (i, f, g, o); m = h."""

    def __init__(self, H, N):
        super().__init__(H, N, dtype=DTYPE)
        self.out_dim = N

    def init_state(self):
        z = torch.zeros(1, 1, self.hidden_size, dtype=self.weight_ih_l0.dtype)
        return (z, z.clone())

    def step(self, a, hc, pos):
        out, hc = nn.LSTM.forward(self, a.view(1, 1, -1), hc)
        return out.view(-1), hc

    def forward_seq(self, a, pos0=0):
        out, _ = nn.LSTM.forward(self, a.unsqueeze(1), self.init_state())
        return out[:, 0, :]


class _Window:
    """Per-key cache of the last W rotated keys and values (ring buffer; softmax-weighted
    sums do not depend on the order of the visible positions), plus, with attention sinks
    (extension "sinks": S), the key's first S keys (unrotated) and values."""

    def __init__(self, W, kshape, vshape, dtype, sinks=0):
        self.W = W
        self.K = torch.zeros((W,) + tuple(kshape), dtype=dtype)
        self.V = torch.zeros((W,) + tuple(vshape), dtype=dtype)
        self.count = 0
        self.S = sinks
        self.SK = torch.zeros((sinks,) + tuple(kshape), dtype=dtype)   # raw (unrotated) keys
        self.SV = torch.zeros((sinks,) + tuple(vshape), dtype=dtype)

    def push(self, k, v):
        slot = self.count % self.W
        self.K[slot] = k
        self.V[slot] = v
        self.count += 1
        n = min(self.count, self.W)       # visible positions max(0, t-W+1) .. t
        return self.K[:n], self.V[:n], n

    def add_sinks(self, K, V, n, k_raw, v, pos, rot):
        """Extension "sinks" (StreamingLLM attention sinks), after push() of the event at
        absolute position `pos` (key-relative index r = count - 1; w0 = max(0, r-W+1)).
        Sink j (< S) is visible when it is not in the window (j < w0) and is rotated as if
        at relative position j + max(0, w0 - S): its own position while the visible set is
        contiguous (w0 <= S), else immediately before the window (w0 - S + j).
        rot(u[m, ...], rel_pos[m]) -> rotated keys. Returns (K, V, n) with the sinks added;
        n = min(r+1, S+W)."""
        r = self.count - 1
        if r < self.S:
            self.SK[r] = k_raw
            self.SV[r] = v
        w0 = max(0, r - self.W + 1)
        m = min(self.S, w0)               # sinks outside the window
        if m == 0:
            return K, V, n
        p = torch.arange(m, dtype=torch.float64) + (pos - r + max(0, w0 - self.S))
        Ks = rot(self.SK[:m], p.to(self.SK.dtype))
        return torch.cat([K, Ks]), torch.cat([V, self.SV[:m]]), n + m


def _window_mask(T, W):
    t = torch.arange(T).unsqueeze(1)
    s = torch.arange(T).unsqueeze(0)
    visible = (s <= t) & (s >= t - W + 1)
    n = visible.sum(1)                    # count of visible positions per row
    return visible, n


def _sink_layout(T, W, S, pos0, dtype):
    """Batch form of the "sinks" extension. Returns (sink_vis [T, S]: sink j is visible
    at row t outside the window, i.e. j <= t and j < w0(t) = max(0, t-W+1);
    sink_pos [T, S]: the position sink j is rotated at for row t, pos0 + w0 - S + j when
    w0 > S, else its own pos0 + j; n [T]: count of visible positions, window + sinks)."""
    t = torch.arange(T).unsqueeze(1)
    j = torch.arange(S).unsqueeze(0)
    w0 = torch.clamp(t - W + 1, min=0)
    sink_vis = (j < w0) & (j <= t)
    gap = w0 > S
    sink_pos = torch.where(gap, w0 - S + j, j.expand(T, S)).to(dtype) + pos0
    _, n_win = _window_mask(T, W)
    n = n_win + sink_vis.sum(1)
    return sink_vis, sink_pos, n


class Attention(nn.Module):
    def __init__(self, H, heads, window, rope_theta, logn_base, bias, sinks=0):
        super().__init__()
        self.sinks = sinks
        if H % heads != 0 or (H // heads) % 2 != 0:
            raise ModelFormatError("attention: heads must divide d_model with an even head dim")
        self.H, self.h, self.d = H, heads, H // heads
        self.W, self.theta, self.logn = window, rope_theta, logn_base
        self.out_dim = H
        self.q = linear(H, H, bias)
        self.k = linear(H, H, bias)
        self.v = linear(H, H, bias)
        self.o = linear(H, H, bias)

    def init_state(self):
        return _Window(self.W, (self.h, self.d), (self.h, self.d), self.q.weight.dtype,
                       self.sinks)

    def step(self, a, win, pos):
        q = rope(self.q(a).view(self.h, self.d), pos, self.theta)    # head j = rows j*d..
        k_raw = self.k(a).view(self.h, self.d)
        k = rope(k_raw, pos, self.theta)
        v = self.v(a).view(self.h, self.d)
        K, V, n = win.push(k, v)                                     # [n, h, d]
        if self.sinks:
            K, V, n = win.add_sinks(K, V, n, k_raw, v, pos,
                                    lambda u, p: rope(u, p.unsqueeze(1), self.theta))
        scores = torch.einsum("hd,nhd->hn", q, K) / math.sqrt(self.d)
        scores = scores * logn_scale(n, self.logn)
        A = torch.softmax(scores, dim=-1)
        out = torch.einsum("hn,nhd->hd", A, V).reshape(self.H)       # heads concatenated
        return self.o(out), win

    def forward_seq(self, a, pos0=0):
        T = a.shape[0]
        pos = torch.arange(T, dtype=a.dtype) + pos0
        q = rope(self.q(a).view(T, self.h, self.d), pos.unsqueeze(1), self.theta)
        k = rope(self.k(a).view(T, self.h, self.d), pos.unsqueeze(1), self.theta)
        v = self.v(a).view(T, self.h, self.d)
        visible, n = _window_mask(T, self.W)
        scores = torch.einsum("thd,shd->hts", q, k) / math.sqrt(self.d)
        if self.sinks:
            # sink columns appended after the T window columns: keys re-rotated per row
            S = min(self.sinks, T)
            sink_vis, sink_pos, n = _sink_layout(T, self.W, S, pos0, a.dtype)
            k_raw = self.k(a[:S]).view(S, self.h, self.d)
            ks = rope(k_raw.unsqueeze(0).expand(T, S, self.h, self.d),
                      sink_pos.unsqueeze(-1), self.theta)                 # [T, S, h, d]
            sscores = torch.einsum("thd,tshd->hts", q, ks) / math.sqrt(self.d)
            scores = torch.cat([scores, sscores], dim=-1)
            visible = torch.cat([visible, sink_vis], dim=-1)
            v = torch.cat([v, v[:S]])
        scale = torch.tensor([logn_scale(int(c), self.logn) for c in n], dtype=a.dtype)
        scores = scores * scale.view(1, T, 1)
        scores = scores.masked_fill(~visible.unsqueeze(0), float("-inf"))
        A = torch.softmax(scores, dim=-1)
        out = torch.einsum("hts,shd->thd", A, v).reshape(T, self.H)
        return self.o(out)


class GAU(nn.Module):
    def __init__(self, H, expansion, key_size, window, rope_theta, logn_base, sinks=0):
        super().__init__()
        self.sinks = sinks
        if key_size % 2 != 0:
            raise ModelFormatError("gau: key_size must be even (RoPE half-split)")
        self.H, self.E, self.S = H, expansion * H, key_size
        self.W, self.theta, self.logn = window, rope_theta, logn_base
        self.out_dim = H
        self.i_dense = linear(H, 2 * self.E + self.S)
        z = lambda *s: nn.Parameter(torch.zeros(*s, dtype=DTYPE))
        self.q_scale, self.q_offset = z(key_size), z(key_size)
        self.k_scale, self.k_offset = z(key_size), z(key_size)
        self.o_dense = linear(self.E, H)

    def _uvqk(self, a, pos, raw=False):
        u, v, z = torch.split(F.silu(self.i_dense(a)), [self.E, self.E, self.S], dim=-1)
        q = rope(z * self.q_scale + self.q_offset, pos, self.theta)
        k_raw = z * self.k_scale + self.k_offset
        k = rope(k_raw, pos, self.theta)
        return (u, v, q, k, k_raw) if raw else (u, v, q, k)

    def init_state(self):
        return _Window(self.W, (self.S,), (self.E,), self.q_scale.dtype, self.sinks)

    def step(self, a, win, pos):
        u, v, q, k, k_raw = self._uvqk(a, pos, raw=True)
        K, V, n = win.push(k, v)
        if self.sinks:
            K, V, n = win.add_sinks(K, V, n, k_raw, v, pos,
                                    lambda w, p: rope(w, p, self.theta))
        scores = logn_scale(n, self.logn) * (K @ q) / math.sqrt(self.S)
        A = torch.softmax(scores, dim=-1)
        return self.o_dense(u * (A @ V)), win

    def forward_seq(self, a, pos0=0):
        T = a.shape[0]
        pos = torch.arange(T, dtype=a.dtype) + pos0
        u, v, q, k, k_raw = self._uvqk(a, pos, raw=True)
        visible, n = _window_mask(T, self.W)
        scores = q @ k.T
        if self.sinks:
            Sn = min(self.sinks, T)
            sink_vis, sink_pos, n = _sink_layout(T, self.W, Sn, pos0, a.dtype)
            ks = rope(k_raw[:Sn].unsqueeze(0).expand(T, Sn, self.S), sink_pos, self.theta)
            scores = torch.cat([scores, torch.einsum("td,tsd->ts", q, ks)], dim=-1)
            visible = torch.cat([visible, sink_vis], dim=-1)
            v = torch.cat([v, v[:Sn]])
        scale = torch.tensor([logn_scale(int(c), self.logn) for c in n], dtype=a.dtype)
        scores = scale.view(T, 1) * scores / math.sqrt(self.S)
        scores = scores.masked_fill(~visible, float("-inf"))
        A = torch.softmax(scores, dim=-1)
        return self.o_dense(u * (A @ v))


class MLP(nn.Module):
    def __init__(self, H, M2):
        super().__init__()
        self.fc1 = linear(H, M2)
        self.fc2 = linear(M2, H)


class Block(nn.Module):
    def __init__(self, bcfg, H, norm_kind, eps, gelu_kind, attn_bias):
        super().__init__()
        self.gelu_kind = gelu_kind
        self.norm = Norm(norm_kind, H, eps)
        self.mixer = make_mixer(bcfg["mixer"], H, attn_bias)
        self.post = bcfg.get("post", "glu")
        M = self.mixer.out_dim
        if self.post == "glu":
            self.out1 = linear(M, H)
            self.out2 = linear(M, H)
        elif M != H:
            raise ModelFormatError('post "none" requires the mixer output dimension %d == d_model %d'
                                   % (M, H))
        self.has_mlp = bcfg.get("mlp") is not None
        if self.has_mlp:
            self.mlp_norm = Norm(norm_kind, H, eps)    # same norm kind and eps as `norm`
            self.mlp = MLP(H, bcfg["mlp"]["hidden"])

    def _finish(self, x, m):
        if self.post == "glu":
            g = gelu(m, self.gelu_kind)
            p = self.out1(g) * torch.sigmoid(self.out2(g))
        else:
            p = m
        x1 = x + p
        if self.has_mlp:
            x1 = x1 + self.mlp.fc2(gelu(self.mlp.fc1(self.mlp_norm(x1)), self.gelu_kind))
        return x1

    def init_state(self):
        return self.mixer.init_state()

    def step(self, x, state, pos):
        m, state = self.mixer.step(self.norm(x), state, pos)
        return self._finish(x, m), state

    def forward_seq(self, x, pos0=0):
        return self._finish(x, self.mixer.forward_seq(self.norm(x), pos0))


def make_mixer(mcfg, H, attn_bias):
    t = mcfg["type"]
    if t == "lru":
        return LRU(H, mcfg["d_state"])
    if t == "gru":
        return GRUMixer(H, mcfg["d_state"])
    if t == "lstm":
        return LSTMMixer(H, mcfg["d_state"])
    if t == "attention":
        return Attention(H, mcfg["heads"], mcfg["window"], mcfg.get("rope_theta", 10000.0),
                         mcfg.get("logn_base"), attn_bias, mcfg.get("sinks", 0))
    if t == "gau":
        return GAU(H, mcfg.get("expansion", 2), mcfg.get("key_size", 128), mcfg["window"],
                   mcfg.get("rope_theta", 10000.0), mcfg.get("logn_base", 512),
                   mcfg.get("sinks", 0))
    raise ModelFormatError("unknown mixer type %r" % (t,))


class Head(nn.Module):
    """head.weight [O, H] (None when tied to embed.weight), head.bias [O] optional."""

    def __init__(self, H, O, has_weight, has_bias):
        super().__init__()
        z = lambda *s: nn.Parameter(torch.zeros(*s, dtype=DTYPE))
        self.register_parameter("weight", z(O, H) if has_weight else None)
        self.register_parameter("bias", z(O) if has_bias else None)


class LseqModel(nn.Module):
    def __init__(self, config, attn_bias=None, head_bias=None):
        """attn_bias: list (per block) of bool, whether attention has its four biases;
        head_bias: whether a next_token head has head.bias (classes/regression always do).
        Both are properties of the tensor file, not of config.json."""
        super().__init__()
        validate_config(config)
        self.config = config
        H = self.H = config["d_model"]
        inp, head = config["input"], config["head"]
        self.input_type, self.head_type = inp["type"], head["type"]
        self.norm_kind = config["norm"]
        eps = config.get("norm_eps", 1e-5)
        self.gelu_kind = config.get("gelu", "erf")
        if self.input_type == "tokens":
            self.vocab_size = inp["vocab_size"]
            self.bos_token = inp.get("bos_token")
            self.embed = nn.Embedding(self.vocab_size, H, dtype=DTYPE)
        else:
            self.feature_dim = inp["dim"]
            self.bos_token = None
            self.input_proj = linear(self.feature_dim, H)
        nb = len(config["blocks"])
        attn_bias = attn_bias if attn_bias is not None else [True] * nb
        self.blocks = nn.ModuleList(
            Block(b, H, self.norm_kind, eps, self.gelu_kind, attn_bias[i])
            for i, b in enumerate(config["blocks"]))
        self.final_norm = Norm(self.norm_kind, H, eps)
        if self.head_type == "next_token":
            self.tied = bool(head.get("tie_embeddings", False))
            hb = True if head_bias is None else head_bias
            self.head = Head(H, self.vocab_size, not self.tied, hb)
        elif self.head_type == "classes":
            self.tied = False
            self.head = Head(H, head["num_classes"], True, True)
        else:
            self.tied = False
            self.head = Head(H, head["dim"], True, True)

    @property
    def dtype(self):
        return self.final_norm.weight.dtype

    def embed_input(self, value):
        if self.input_type == "tokens":
            return self.embed.weight[int(value)]
        f = torch.as_tensor(value, dtype=self.dtype)
        return self.input_proj(f)

    def head_out(self, x):
        """logits / probs-logits / prediction from a block output (before final_norm)."""
        y = self.final_norm(x)
        W = self.embed.weight if self.tied else self.head.weight
        out = y @ W.T
        if self.head.bias is not None:
            out = out + self.head.bias
        return out

    def initial_output(self):
        """head(final_norm(0)): logits_{-1} (next_token without BOS) / pred_{-1}."""
        return self.head_out(torch.zeros(self.H, dtype=self.dtype))

    @torch.no_grad()
    def forward_seq(self, inputs, pos0=0):
        """Whole stream of one key (BOS included if the caller put it there) at positions
        pos0, pos0+1, ...; returns head outputs [T, O] after each event."""
        if self.input_type == "tokens":
            x = self.embed.weight[torch.as_tensor(inputs, dtype=torch.long)]
        else:
            x = self.input_proj(torch.as_tensor(inputs, dtype=self.dtype))
        for blk in self.blocks:
            x = blk.forward_seq(x, pos0)
        return self.head_out(x)


# ---------------------------------------------------------------------------------------
# Per-key stepping scorer
# ---------------------------------------------------------------------------------------

class _KeyState:
    __slots__ = ("blocks", "pos", "seq", "prev")


def emit(model, prev, out, value):
    """Score of one event from the head output before it (prev) and after it (out)."""
    if model.head_type == "next_token":
        return {"score": float(-torch.log_softmax(prev, -1)[int(value)])}
    if model.head_type == "classes":
        return {"probs": [float(p) for p in torch.softmax(out, -1)]}
    f = torch.as_tensor(value, dtype=prev.dtype)
    return {"score": float(torch.mean((prev - f) ** 2))}


class StreamScorer:
    """Scores an interleaved event list; every key has its own state and positions."""

    def __init__(self, model, pos_offset=0):
        self.model = model
        self.pos_offset = pos_offset     # only for self-checks: start keys at position P
        self.keys = {}

    def _advance(self, st, value):
        x = self.model.embed_input(value)
        for i, blk in enumerate(self.model.blocks):
            x, st.blocks[i] = blk.step(x, st.blocks[i], st.pos)
        st.pos += 1
        return self.model.head_out(x)

    def _new_key(self):
        m = self.model
        st = _KeyState()
        st.blocks = [b.init_state() for b in m.blocks]
        st.pos = self.pos_offset
        st.seq = 0
        if m.bos_token is not None:
            # RESOLVED: BOS is a property of the tokens input, so it is consumed whatever
            # the head ("A key's events take positions 0, 1, 2, ... (the BOS token first,
            # when set)"); it takes a position and a window slot and emits nothing.
            st.prev = self._advance(st, m.bos_token)
        elif m.head_type == "classes":
            st.prev = None
        else:
            st.prev = m.initial_output()
        return st

    @torch.no_grad()
    def score(self, key, token=None, features=None):
        m = self.model
        value = token if m.input_type == "tokens" else features
        if value is None:
            raise EventError("missing %s" % ("token" if m.input_type == "tokens" else "features"))
        st = self.keys.get(key)
        if st is None:
            st = self.keys[key] = self._new_key()
        out = self._advance(st, value)
        res = {"seq": st.seq}
        res.update(emit(m, st.prev, out, value))
        st.prev = out
        st.seq += 1
        return res


@torch.no_grad()
def score_stream_batch(model, values, pos0=0):
    """Scores of one key's whole stream through forward_seq (the batch path)."""
    seq = list(values)
    bos = model.bos_token is not None
    if bos:
        seq = [model.bos_token] + seq
    outs = model.forward_seq(seq, pos0)
    if bos:
        prevs, outs = outs[:-1], outs[1:]
    elif model.head_type == "classes":
        prevs = [None] * len(values)
    else:
        prevs = torch.cat([model.initial_output().unsqueeze(0), outs[:-1]])
    return [emit(model, prevs[t], outs[t], values[t]) for t in range(len(values))]


# ---------------------------------------------------------------------------------------
# config.json validation
# ---------------------------------------------------------------------------------------

def _want(cond, field, msg):
    if not cond:
        raise ModelFormatError("config.json: field %s: %s" % (field, msg))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate_config(c):
    _want(isinstance(c, dict), "(root)", "must be an object")
    _want(c.get("format") == "lseq-model", "format", 'must be "lseq-model"')
    _want(c.get("version") == 1 and _is_int(c.get("version")), "version", "must be 1")
    _want(isinstance(c.get("name"), str), "name", "must be a string")
    H = c.get("d_model")
    _want(_is_int(H) and H > 0, "d_model", "must be a positive integer")
    inp = c.get("input")
    _want(isinstance(inp, dict), "input", "must be an object")
    if inp.get("type") == "tokens":
        V = inp.get("vocab_size")
        _want(_is_int(V) and V > 0, "input.vocab_size", "must be a positive integer")
        b = inp.get("bos_token")
        _want(b is None or (_is_int(b) and 0 <= b < V), "input.bos_token",
              "must be an integer in [0, vocab_size)")
    elif inp.get("type") == "features":
        _want(_is_int(inp.get("dim")) and inp["dim"] > 0, "input.dim", "must be a positive integer")
    else:
        _want(False, "input.type", 'must be "tokens" or "features"')
    _want(c.get("norm") in ("layer", "rms"), "norm", 'must be "layer" or "rms"')
    eps = c.get("norm_eps", 1e-5)
    _want(_is_num(eps) and eps > 0, "norm_eps", "must be a positive number")
    _want(c.get("gelu", "erf") in ("erf", "tanh"), "gelu", 'must be "erf" or "tanh"')
    blocks = c.get("blocks")
    _want(isinstance(blocks, list), "blocks", "must be an array")
    for i, b in enumerate(blocks):
        f = "blocks[%d]" % i
        _want(isinstance(b, dict), f, "must be an object")
        m = b.get("mixer")
        _want(isinstance(m, dict), f + ".mixer", "must be an object")
        t = m.get("type")
        if t in ("lru", "gru", "lstm"):
            _want(_is_int(m.get("d_state")) and m["d_state"] > 0, f + ".mixer.d_state",
                  "must be a positive integer")
        elif t in ("attention", "gau"):
            _want(_is_int(m.get("window")) and m["window"] > 0, f + ".mixer.window",
                  "must be a positive integer")
            _want(_is_num(m.get("rope_theta", 10000.0)) and m.get("rope_theta", 10000.0) > 0,
                  f + ".mixer.rope_theta", "must be a positive number")
            lb = m.get("logn_base") if t == "attention" else m.get("logn_base", 512)
            _want(lb is None or (_is_num(lb) and lb > 1), f + ".mixer.logn_base",
                  "must be a number > 1")
            # Extension (tools/reference/README.md, "Format extensions"): attention sinks.
            _want(_is_int(m.get("sinks", 0)) and m.get("sinks", 0) >= 0, f + ".mixer.sinks",
                  "must be an integer >= 0")
            if t == "attention":
                _want(_is_int(m.get("heads")) and m["heads"] > 0, f + ".mixer.heads",
                      "must be a positive integer")
            else:
                _want(_is_int(m.get("expansion", 2)) and m.get("expansion", 2) > 0,
                      f + ".mixer.expansion", "must be a positive integer")
                _want(_is_int(m.get("key_size", 128)) and m.get("key_size", 128) > 0,
                      f + ".mixer.key_size", "must be a positive integer")
        else:
            raise ModelFormatError("config.json: field %s.mixer.type: unknown mixer type %r"
                                   % (f, t))
        _want(b.get("post", "glu") in ("glu", "none"), f + ".post", 'must be "glu" or "none"')
        mlp = b.get("mlp")
        _want(mlp is None or (isinstance(mlp, dict) and _is_int(mlp.get("hidden"))
                              and mlp["hidden"] > 0), f + ".mlp", 'must be {"hidden": M2}')
    head = c.get("head")
    _want(isinstance(head, dict), "head", "must be an object")
    ht = head.get("type")
    if ht == "next_token":
        _want(inp["type"] == "tokens", "head.type", "next_token requires tokens input")
        _want(isinstance(head.get("tie_embeddings", False), bool), "head.tie_embeddings",
              "must be a boolean")
    elif ht == "classes":
        _want(_is_int(head.get("num_classes")) and head["num_classes"] > 0, "head.num_classes",
              "must be a positive integer")
    elif ht == "regression":
        _want(_is_int(head.get("dim")), "head.dim", "must be an integer")
        _want(inp["type"] == "features" and head["dim"] == inp["dim"], "head.dim",
              "must equal input.dim (features input)")
    else:
        raise ModelFormatError("config.json: field head.type: unknown head type %r" % (ht,))


# ---------------------------------------------------------------------------------------
# safetensors I/O (written by hand: no safetensors package)
# ---------------------------------------------------------------------------------------

_NP = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2)}


def read_safetensors(path):
    """name -> float64 tensor. F32, F16, BF16 only; checks offsets and sizes."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ModelFormatError("%s: file shorter than the 8-byte header length" % path)
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER_BYTES:
        raise ModelFormatError("%s: header of %d bytes is over 100 MB" % (path, n))
    if 8 + n > len(blob):
        raise ModelFormatError("%s: header length %d runs past the end of the file" % (path, n))
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    body = memoryview(blob)[8 + n:]
    out, spans = {}, []
    for name, info in header.items():
        dt, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        if dt not in _NP:
            raise ModelFormatError("%s: tensor %s: unsupported dtype %s" % (path, name, dt))
        npdt, size = _NP[dt]
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= b <= e <= len(body)):
            raise ModelFormatError("%s: tensor %s: data_offsets [%d, %d] out of range (data is "
                                   "%d bytes)" % (path, name, b, e, len(body)))
        if e - b != count * size:
            raise ModelFormatError("%s: tensor %s: %d bytes for shape %s %s"
                                   % (path, name, e - b, shape, dt))
        spans.append((b, e, name))
        arr = np.frombuffer(body, dtype=npdt, count=count, offset=b)
        if dt == "BF16":   # bfloat16 = upper 16 bits of a float32
            arr = (arr.astype(np.uint32) << 16).view("<f4")
        out[name] = torch.from_numpy(arr.astype(np.float64).reshape(shape))
    spans.sort()
    for (b1, e1, n1), (b2, e2, n2) in zip(spans, spans[1:]):
        if b2 < e1:
            raise ModelFormatError("%s: tensors %s and %s overlap" % (path, n1, n2))
    return out


def tensor_bytes(t, dtype):
    t = t.detach().cpu().contiguous()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.to(torch.float16).numpy().astype("<f2").tobytes()
    if dtype == "BF16":   # round-to-nearest-even, by torch
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError("dtype must be F32, F16 or BF16, not %r" % (dtype,))


def write_safetensors(path, tensors, dtype):
    """tensors: name -> tensor, all written as `dtype`, in name order, contiguous."""
    header, chunks, off = {}, [], 0
    for name in sorted(tensors):
        raw = tensor_bytes(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape),
                        "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for c in chunks:
            f.write(c)


def save_model(directory, config, state_dict, dtype="F32"):
    """Writes config.json and model.safetensors (every tensor in `dtype`)."""
    validate_config(config)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(directory, "model.safetensors"),
                      {k: v for k, v in state_dict.items()}, dtype)


def load_model(directory):
    """config.json + model.safetensors -> LseqModel in float64 (weights as stored)."""
    cpath = os.path.join(directory, "config.json")
    with open(cpath) as f:
        config = json.load(f)
    try:
        validate_config(config)
    except ModelFormatError as e:
        raise ModelFormatError("%s: %s" % (cpath, e)) from None
    spath = os.path.join(directory, "model.safetensors")
    tensors = read_safetensors(spath)
    attn_bias = []
    for i, b in enumerate(config["blocks"]):
        has = ["blocks.%d.mixer.%s.bias" % (i, p) in tensors for p in "qkvo"]
        if b["mixer"]["type"] == "attention" and any(has) and not all(has):
            raise ModelFormatError("%s: blocks.%d.mixer: attention biases must be all four or "
                                   "none" % (spath, i))
        attn_bias.append(all(has))
    model = LseqModel(config, attn_bias=attn_bias, head_bias="head.bias" in tensors)
    expected = model.state_dict()
    for name in expected:
        if name not in tensors:
            raise ModelFormatError("%s: missing tensor %s" % (spath, name))
    for name in tensors:
        if name not in expected:
            raise ModelFormatError("%s: extra tensor %s" % (spath, name))
        if tuple(tensors[name].shape) != tuple(expected[name].shape):
            raise ModelFormatError("%s: tensor %s has shape %s, expected %s"
                                   % (spath, name, list(tensors[name].shape),
                                      list(expected[name].shape)))
    model.load_state_dict(tensors, strict=True)
    model.eval()
    return model


# ---------------------------------------------------------------------------------------
# Events (EVENTS.md)
# ---------------------------------------------------------------------------------------

def _reject_constant(c):
    raise ValueError("bare %s is not JSON" % c)


def parse_event(raw, model):
    """raw: one line/record (str). Returns a dict with key, value, ts?, id?; EventError if
    the record is not a valid event for `model`."""
    if len(raw.encode("utf-8")) > MAX_RECORD_BYTES:
        raise EventError("record over 1 MiB")
    try:
        ev = json.loads(raw, parse_constant=_reject_constant)
    except ValueError as e:
        raise EventError("bad JSON: %s" % e) from None
    if not isinstance(ev, dict):
        raise EventError("bad JSON: not an object")
    key = ev.get("key")
    if key is None:
        raise EventError("missing key")
    if not isinstance(key, str) or not 1 <= len(key.encode("utf-8")) <= 256:
        raise EventError("key must be a string of 1..256 UTF-8 bytes")
    out = {"key": key}
    if "ts" in ev:
        if not _is_int(ev["ts"]):
            raise EventError("ts must be an integer")
        out["ts"] = ev["ts"]
    if "id" in ev:
        if not isinstance(ev["id"], str):
            raise EventError("id must be a string")
        out["id"] = ev["id"]
    has_tok, has_feat = "token" in ev, "features" in ev
    if has_tok == has_feat:
        raise EventError("exactly one of token or features is required")
    if model.input_type == "tokens":
        if not has_tok:
            raise EventError("features given but the model takes tokens")
        tok = ev["token"]
        if not _is_int(tok):
            raise EventError("token must be an integer")
        if not 0 <= tok < model.vocab_size:
            raise EventError("token %d out of range [0, %d)" % (tok, model.vocab_size))
        out["value"] = tok
    else:
        if not has_feat:
            raise EventError("token given but the model takes features")
        fs = ev["features"]
        if not isinstance(fs, list) or len(fs) != model.feature_dim:
            raise EventError("features must be an array of %d numbers" % model.feature_dim)
        for x in fs:
            if not _is_num(x) or not math.isfinite(x):
                raise EventError("features must be finite numbers")
        out["value"] = [float(x) for x in fs]
    return out


def _open(path, mode):
    if path == "-":
        return sys.stdin if "r" in mode else sys.stdout
    if path.endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def score_file(model, in_path, out_path, dead_path=None):
    """Scores a JSON Lines file in input order; returns (n_scored, n_rejected)."""
    scorer = StreamScorer(model)
    name = model.config["name"]
    n_ok = n_bad = 0
    fin, fout = _open(in_path, "r"), _open(out_path, "w")
    fdead = _open(dead_path, "w") if dead_path else None
    src = os.path.basename(in_path)
    for lineno, line in enumerate(fin, 1):
        raw = line[:-1] if line.endswith("\n") else line
        try:
            ev = parse_event(raw, model)
        except EventError as e:
            n_bad += 1
            rec = {"error": str(e), "raw": raw.encode("utf-8")[:RAW_CUT_BYTES]
                   .decode("utf-8", "ignore"), "source": "%s:%d" % (src, lineno)}
            if fdead:
                fdead.write(json.dumps(rec) + "\n")
            else:
                print("rejected: " + json.dumps(rec), file=sys.stderr)
            continue
        r = scorer.score(ev["key"], **({"token": ev["value"]} if model.input_type == "tokens"
                                       else {"features": ev["value"]}))
        rec = {"key": ev["key"], "seq": r["seq"]}
        if "ts" in ev:
            rec["ts"] = ev["ts"]
        if "id" in ev:
            rec["id"] = ev["id"]
        rec["model"] = name
        if "probs" in r:
            rec["probs"] = r["probs"]
        else:
            rec["score"] = r["score"]
        fout.write(json.dumps(rec) + "\n")
        n_ok += 1
    for f in (fin, fout, fdead):
        if f not in (None, sys.stdin, sys.stdout):
            f.close()
    return n_ok, n_bad


def main(argv=None):
    ap = argparse.ArgumentParser(description="lseq float64 reference scorer")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("score", help="score a JSON Lines event file (.gz allowed)")
    sp.add_argument("--model", required=True, help="model directory")
    sp.add_argument("--input", required=True, help="events (JSON Lines, '-' = stdin)")
    sp.add_argument("--output", required=True, help="scores (JSON Lines, '-' = stdout)")
    sp.add_argument("--dead-letter", help="write rejected records here (default: stderr)")
    sp.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                    help="float32 only to gauge an engine's float32 error; the reference "
                         "is float64")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model(a.model)
    if a.dtype == "float32":
        model = model.to(torch.float32)
    n_ok, n_bad = score_file(model, a.input, a.output, a.dead_letter)
    print("scored %d events, rejected %d" % (n_ok, n_bad), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
