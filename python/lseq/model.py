"""LseqModel: MODEL_FORMAT.md as a torch.nn.Module, batched over whole sequences.

Parameter names are the format's tensor names, so ``model.state_dict()`` is exactly what
``model.safetensors`` holds. Float32 by default; the LRU recurrence runs in float64 inside
(see scan.py), as the engine's does.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import mixer_width, parse_config
from .scan import lru_loglam, lru_scan


class Norm(nn.Module):
    """``layer``: torch.nn.LayerNorm (weight, bias); ``rms``: x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, kind, H, eps):
        super().__init__()
        self.kind, self.eps = kind, eps
        self.weight = nn.Parameter(torch.ones(H))
        if kind == "layer":
            self.bias = nn.Parameter(torch.zeros(H))

    def forward(self, x):
        if self.kind == "layer":
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps) * self.weight


# ---------------------------------------------------------------------------------------
# Mixers: forward(a [B, T, H]) -> m [B, T, M], a stream starting at position 0.
# ---------------------------------------------------------------------------------------

class LRU(nn.Module):
    """Linear Recurrent Unit (Orvieto et al. 2023). Init as the paper: |lambda| uniform on
    the ring [r_min, r_max] (uniform in |lambda|^2), phase uniform in [0, max_phase],
    gamma_log = log sqrt(1 - |lambda|^2), B ~ N(0, 1/(2H)), C ~ N(0, 1/N), D ~ N(0, 1)."""

    def __init__(self, H, N, r_min=0.9, r_max=0.999, max_phase=2 * math.pi):
        super().__init__()
        u1, u2 = torch.rand(N), torch.rand(N)
        nu = -0.5 * torch.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)
        theta = (max_phase * u2).clamp_min(1e-6)
        self.nu_log = nn.Parameter(torch.log(nu))
        self.theta_log = nn.Parameter(torch.log(theta))
        self.gamma_log = nn.Parameter(torch.log(torch.sqrt(1 - torch.exp(-2 * nu))))
        self.B_re = nn.Parameter(torch.randn(N, H) / math.sqrt(2 * H))
        self.B_im = nn.Parameter(torch.randn(N, H) / math.sqrt(2 * H))
        self.C_re = nn.Parameter(torch.randn(H, N) / math.sqrt(N))
        self.C_im = nn.Parameter(torch.randn(H, N) / math.sqrt(N))
        self.D = nn.Parameter(torch.randn(H))
        self.N = N
        self.scan = lru_scan        # (loglam, b) -> h; lru_step_loop for the baseline

    def forward(self, a):
        N = self.N
        g = torch.exp(self.gamma_log).unsqueeze(1)
        u = a @ torch.cat([self.B_re * g, self.B_im * g]).t()          # [B, T, 2N]
        b = torch.complex(u[..., :N].double(), u[..., N:].double())
        h = self.scan(lru_loglam(self.nu_log, self.theta_log), b)
        hr = torch.cat([h.real, h.imag], -1).to(a.dtype)
        return hr @ torch.cat([self.C_re, -self.C_im], 1).t() + self.D * a


class GRU(nn.GRU):
    """Exactly torch.nn.GRU(H, N) (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0)."""

    def __init__(self, H, N):
        super().__init__(H, N, batch_first=True)

    def forward(self, a):
        return nn.GRU.forward(self, a)[0]


class LSTM(nn.LSTM):
    """Exactly torch.nn.LSTM(H, N); the mixer's output is h."""

    def __init__(self, H, N):
        super().__init__(H, N, batch_first=True)

    def forward(self, a):
        return nn.LSTM.forward(self, a)[0]


def rope_tables(pos, d, theta, dtype):
    """cos, sin [..., d/2] of angles pos * theta^(-2j/d), computed in float64."""
    j = torch.arange(d // 2, dtype=torch.float64, device=pos.device)
    ang = pos.to(torch.float64).unsqueeze(-1) * theta ** (-2.0 * j / d)
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def rope(u, cos, sin):
    """Half-split RoPE: [u1 cos - u2 sin, u2 cos + u1 sin] on the last axis."""
    h = u.shape[-1] // 2
    u1, u2 = u[..., :h], u[..., h:]
    return torch.cat([u1 * cos - u2 * sin, u2 * cos + u1 * sin], -1)


def windowed_attention(q, k_raw, v, window, theta, logn_base, sinks):
    """Causal windowed attention with RoPE, log-n scaling and sinks (docs/ENGINE.md).

    q, k_raw: [B, h, T, d] before RoPE; v: [B, h, T, dv]; positions 0..T-1. Queries go in
    blocks of C rows; a block reads the C + W' - 1 keys its rows can see (W' = min(W, T)),
    so memory is O(T (C + W)), not O(T^2). Returns [B, h, T, dv].
    """
    Bsz, nh, T, d = q.shape
    dv = v.shape[-1]
    dt = q.dtype
    dev = q.device
    pos = torch.arange(T, device=dev)
    cos, sin = rope_tables(pos, d, theta, dt)
    qr, k = rope(q, cos, sin), rope(k_raw, cos, sin)
    We = min(window, T)
    C = min(T, max(16, min(We, 128)))
    pad = (-T) % C
    Tp, nc, L = T + pad, (T + pad) // C, C + We - 1
    qb = F.pad(qr, (0, 0, 0, pad)).view(Bsz, nh, nc, C, d)
    kb = F.pad(k, (0, 0, We - 1, pad)).unfold(2, L, C).transpose(-1, -2)    # [B,h,nc,L,d]
    vb = F.pad(v, (0, 0, We - 1, pad)).unfold(2, L, C).transpose(-1, -2)
    sc = torch.einsum("bhcid,bhcjd->bhcij", qb, kb)                          # [B,h,nc,C,L]
    i = torch.arange(C, device=dev).view(1, C, 1)
    j = torch.arange(L, device=dev).view(1, 1, L)
    s = torch.arange(nc, device=dev).view(nc, 1, 1) * C - We + 1 + j  # key position
    vis = (j >= i) & (j <= i + We - 1) & (s >= 0)                            # [nc, C, L]
    t = torch.arange(Tp, device=dev)
    n = torch.clamp(t + 1, max=window)
    if sinks:
        S = min(sinks, T)
        js = torch.arange(S, device=dev).unsqueeze(0)
        w0 = torch.clamp(t - window + 1, min=0).unsqueeze(1)
        svis = js < w0                                                       # [Tp, S]
        spos = js + torch.clamp(w0 - sinks, min=0)      # rotated just before the window
        scos, ssin = rope_tables(spos, d, theta, dt)                         # [Tp, S, d/2]
        ks = rope(k_raw[:, :, :S].unsqueeze(2), scos, ssin)                  # [B,h,Tp,S,d]
        ss = torch.einsum("bhtd,bhtsd->bhts", F.pad(qr, (0, 0, 0, pad)), ks)
        sc = torch.cat([sc, ss.view(Bsz, nh, nc, C, S)], -1)
        vis = torch.cat([vis, svis.view(nc, C, S)], -1)
        n = n + svis.sum(1)
    scale = torch.full((Tp,), 1.0 / math.sqrt(d), dtype=torch.float64, device=dev)
    if logn_base:
        scale = scale * torch.clamp(torch.log(n.double()) / math.log(logn_base), min=1.0)
    sc = sc * scale.to(dt).view(nc, C, 1)
    sc = sc.masked_fill(~vis, float("-inf"))
    A = torch.softmax(sc, -1)
    out = torch.einsum("bhcij,bhcjd->bhcid", A[..., :L], vb)
    if sinks:
        out = out + torch.einsum("bhcis,bhsd->bhcid", A[..., L:], v[:, :, :S])
    return out.reshape(Bsz, nh, Tp, dv)[:, :, :T]


class Attention(nn.Module):
    """Multi-head causal windowed attention (q, k, v, o: [H, H], biases all or none)."""

    def __init__(self, H, heads, window, rope_theta=10000.0, logn_base=None, sinks=0, bias=False):
        super().__init__()
        self.h, self.d = heads, H // heads
        self.window, self.theta, self.logn, self.sinks = window, rope_theta, logn_base, sinks
        self.q = nn.Linear(H, H, bias=bias)
        self.k = nn.Linear(H, H, bias=bias)
        self.v = nn.Linear(H, H, bias=bias)
        self.o = nn.Linear(H, H, bias=bias)

    def forward(self, a):
        Bsz, T, H = a.shape
        sp = lambda x: x.view(Bsz, T, self.h, self.d).transpose(1, 2)
        out = windowed_attention(sp(self.q(a)), sp(self.k(a)), sp(self.v(a)), self.window,
                                 self.theta, self.logn, self.sinks)
        return self.o(out.transpose(1, 2).reshape(Bsz, T, H))


class GAU(nn.Module):
    """Gated attention unit (GAU-alpha), single head, key size S, expansion E."""

    def __init__(self, H, expansion=2, key_size=128, window=512, rope_theta=10000.0,
                 logn_base=512.0, sinks=0):
        super().__init__()
        self.E, self.S = expansion * H, key_size
        self.window, self.theta, self.logn, self.sinks = window, rope_theta, logn_base, sinks
        self.i_dense = nn.Linear(H, 2 * self.E + key_size)
        self.q_scale = nn.Parameter(torch.ones(key_size))
        self.q_offset = nn.Parameter(torch.zeros(key_size))
        self.k_scale = nn.Parameter(torch.ones(key_size))
        self.k_offset = nn.Parameter(torch.zeros(key_size))
        self.o_dense = nn.Linear(self.E, H)

    def forward(self, a):
        u, v, z = torch.split(F.silu(self.i_dense(a)), [self.E, self.E, self.S], -1)
        q = (z * self.q_scale + self.q_offset).unsqueeze(1)
        k = (z * self.k_scale + self.k_offset).unsqueeze(1)
        out = windowed_attention(q, k, v.unsqueeze(1), self.window, self.theta, self.logn,
                                 self.sinks)[:, 0]
        return self.o_dense(u * out)


def make_mixer(H, m, lru_init=None):
    """The mixer module of a normalized ``blocks[i].mixer`` config."""
    t = m["type"]
    if t == "lru":
        return LRU(H, m["d_state"], **(lru_init or {}))
    if t == "gru":
        return GRU(H, m["d_state"])
    if t == "lstm":
        return LSTM(H, m["d_state"])
    if t == "attention":
        return Attention(H, m["heads"], m["window"], m["rope_theta"], m.get("logn_base"),
                         m["sinks"], m["bias"])
    return GAU(H, m["expansion"], m["key_size"], m["window"], m["rope_theta"], m["logn_base"],
               m["sinks"])


class _MLP(nn.Module):
    def __init__(self, H, M2):
        super().__init__()
        self.fc1 = nn.Linear(H, M2)
        self.fc2 = nn.Linear(M2, H)


class Block(nn.Module):
    """norm -> mixer -> (GLU) -> residual -> (MLP with its own norm and residual)."""

    def __init__(self, config, b, lru_init=None):
        super().__init__()
        H = config["d_model"]
        M = mixer_width(config, b)
        self.gelu = "none" if config["gelu"] == "erf" else "tanh"
        self.norm = Norm(config["norm"], H, config["norm_eps"])
        self.mixer = make_mixer(H, b["mixer"], lru_init)
        self.glu = b["post"] == "glu"
        if self.glu:
            self.out1 = nn.Linear(M, H)
            self.out2 = nn.Linear(M, H)
        if "mlp" in b:
            self.mlp_norm = Norm(config["norm"], H, config["norm_eps"])
            self.mlp = _MLP(H, b["mlp"]["hidden"])
        else:
            self.mlp = None

    def forward(self, x):
        m = self.mixer(self.norm(x))
        if self.glu:
            g = F.gelu(m, approximate=self.gelu)
            m = self.out1(g) * torch.sigmoid(self.out2(g))
        x = x + m
        if self.mlp is not None:
            x = x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.mlp_norm(x)), approximate=self.gelu))
        return x


class Head(nn.Module):
    """``head.weight`` (absent when tied to ``embed.weight``) and ``head.bias`` (optional
    for next_token)."""

    def __init__(self, H, K, weight=True, bias=True):
        super().__init__()
        # initialized as nn.Linear(H, K): U(-1/sqrt(H), 1/sqrt(H)); a tied head's bias 0
        bound = 1.0 / math.sqrt(H)
        self.weight = nn.Parameter(torch.empty(K, H).uniform_(-bound, bound)) if weight else None
        self.bias = None
        if bias:
            self.bias = nn.Parameter(torch.empty(K).uniform_(-bound, bound) if weight
                                     else torch.zeros(K))

    def forward(self, y, tied=None):
        return F.linear(y, self.weight if self.weight is not None else tied, self.bias)


class LseqModel(nn.Module):
    """A model of the lseq format (MODEL_FORMAT.md), for training, export and checking.

    ``LseqModel(config)`` takes a config dict (or JSON text) as ``config.json`` holds it;
    it is validated as the engine validates it (errors name the JSON path). Weights are
    initialized randomly (PyTorch defaults; LRU as Orvieto et al., ``lru_init`` overrides
    ``r_min``, ``r_max``, ``max_phase``; embeddings N(0, 1)).

    - ``model(x)``: x is ``[B, T]`` tokens (int64) or ``[B, T, dim]`` features; returns the
      head's raw outputs after each event, ``[B, T, V|K|F]`` (logits, class logits or the
      next-feature prediction). Positions start at 0 with ``x[:, 0]``; nothing is prepended.
    - ``model.scores(x)``: the per-event scores of EVENTS.md (see its docstring).
    - ``model.state_dict()``: keys are exactly the format's tensor names.
    """

    def __init__(self, config, lru_init=None):
        super().__init__()
        self.config = parse_config(config)
        c = self.config
        H = c["d_model"]
        inp = c["input"]
        if inp["type"] == "tokens":
            self.embed = nn.Embedding(inp["vocab_size"], H)
        else:
            self.input_proj = nn.Linear(inp["dim"], H)
        self.blocks = nn.ModuleList(Block(c, b, lru_init) for b in c["blocks"])
        self.final_norm = Norm(c["norm"], H, c["norm_eps"])
        hd = c["head"]
        if hd["type"] == "next_token":
            self.head = Head(H, inp["vocab_size"], not hd["tie_embeddings"], hd["bias"])
        else:
            K = hd["num_classes"] if hd["type"] == "classes" else hd["dim"]
            self.head = Head(H, K)

    @property
    def tokens(self):
        return self.config["input"]["type"] == "tokens"

    def embed_input(self, x):
        """e_t: embed.weight[token] or input_proj(features)."""
        if self.tokens:
            return self.embed(x)
        return self.input_proj(x.to(self.input_proj.weight.dtype))

    def readout(self, y):
        """head(final_norm(y)) for block outputs y [..., H]."""
        tied = self.embed.weight if self.head.weight is None else None
        return self.head(self.final_norm(y), tied)

    def forward(self, x):
        h = self.embed_input(x)
        for b in self.blocks:
            h = b(h)
        return self.readout(h)

    def _initial_out(self, batch):
        p = next(self.parameters())
        return self.readout(torch.zeros(batch, 1, self.config["d_model"], dtype=p.dtype,
                                        device=p.device))

    def scores(self, x):
        """Per-event scores as EVENTS.md defines them, differentiable.

        x: ``[B, T]`` tokens or ``[B, T, dim]`` features, one key's stream per row from its
        first event (the BOS token, when the config sets one, is prepended here). Rows may be
        right-padded: every output depends only on its row's earlier events.

        Returns ``[B, T]`` for next_token (surprisal in nats, ``-log softmax(logits_{t-1})
        [token_t]``, t = 0 from the logits after BOS or ``head(final_norm(0))``) and
        regression (``mean((pred_{t-1} - f_t)^2)``), ``[B, T, K]`` probabilities for classes
        (after event t). ``scores(x).mean()`` is the next-token loss in nats.
        """
        c = self.config
        Bsz, T = x.shape[0], x.shape[1]
        bos = c["input"].get("bos_token")
        htype = c["head"]["type"]
        if bos is not None:
            x_in = torch.cat([torch.full((Bsz, 1), bos, dtype=x.dtype, device=x.device), x], 1)
        else:
            x_in = x
        if htype == "classes":
            out = self(x_in)
            return torch.softmax(out[:, 1:] if bos is not None else out, -1)
        if bos is not None:
            prev = self(x_in[:, :-1])                   # outputs after BOS, x_0 .. x_{T-2}
        else:
            first = self._initial_out(Bsz)
            prev = torch.cat([first, self(x[:, :-1])], 1) if T > 1 else first[:, :T]
        if htype == "next_token":
            lp = torch.log_softmax(prev, -1)
            return -lp.gather(-1, x.long().unsqueeze(-1)).squeeze(-1)
        return ((prev - x.to(prev.dtype)) ** 2).mean(-1)
