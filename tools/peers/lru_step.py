"""A float32, real-arithmetic PyTorch step of an lseq LRU model: the peer the engine is
measured against (issues 7 and 18). Built from the float64 reference
(tools/reference/lseq_ref.py) loaded from the same model directory, so the weights are the
engine's.

The module is what an ML engineer would deploy to score events of many keys: gamma folded into
B, lambda precomputed, the complex recurrence as real and imaginary parts (ONNX has no complex
type), the keys' states passed in and out, and every product GEMM-shaped: a batch of rows times
a transposed weight (``a @ W.T``, ``F.linear``), one row per key. forward(token[B], y[B, H],
h_re_0[B, N], h_im_0[B, N], ...) returns (surprisal[B] of each token under head(final_norm(y)),
y', h_re_0', h_im_0', ...); B = 1 is the one-key step.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "reference"))
import lseq_ref as R  # noqa: E402


class LruStep(torch.nn.Module):
    def __init__(self, ref):
        super().__init__()
        c = ref.config
        if ref.input_type != "tokens" or ref.head_type != "next_token":
            raise ValueError("the peer step supports tokens input and a next_token head")
        f32 = lambda t: t.detach().to(torch.float32).clone()  # noqa: E731
        self.embed = f32(ref.embed.weight)
        self.gelu_kind = ref.gelu_kind
        self.blocks = []
        for blk, bc in zip(ref.blocks, c["blocks"]):
            if bc["mixer"]["type"] != "lru" or bc.get("mlp") is not None:
                raise ValueError("the peer step supports lru blocks without mlp")
            lam, g, B, C = blk.mixer.coefficients()
            Bg = g.unsqueeze(1) * B                                   # gamma folded into B
            self.blocks.append(dict(
                norm=blk.norm, post=blk.post,
                lam_re=f32(lam.real), lam_im=f32(lam.imag),
                B=f32(torch.cat([Bg.real, Bg.imag])),                 # one real [2N, H] product
                C=f32(torch.cat([C.real, -C.imag], dim=1)),           # Re(C h) = [C_re, -C_im] [h_re; h_im]
                D=f32(blk.mixer.D), N=blk.mixer.N,
                w1=f32(blk.out1.weight) if blk.post == "glu" else None,
                b1=f32(blk.out1.bias) if blk.post == "glu" else None,
                w2=f32(blk.out2.weight) if blk.post == "glu" else None,
                b2=f32(blk.out2.bias) if blk.post == "glu" else None,
                nw=f32(blk.norm.weight),
                nb=f32(blk.norm.bias) if blk.norm.kind == "layer" else None,
                eps=blk.norm.eps, kind=blk.norm.kind))
        fn = ref.final_norm
        self.final = dict(nw=f32(fn.weight), nb=f32(fn.bias) if fn.kind == "layer" else None,
                          eps=fn.eps, kind=fn.kind)
        self.head_w = f32(ref.embed.weight if ref.tied else ref.head.weight)
        self.head_b = f32(ref.head.bias) if ref.head.bias is not None else None
        self.H = ref.H
        self.bos = ref.bos_token
        # Register every tensor as a buffer, so ONNX export embeds them as initializers.
        for i, b in enumerate(self.blocks):
            for k, v in list(b.items()):
                if isinstance(v, torch.Tensor):
                    self.register_buffer("b%d_%s" % (i, k), v)
                    b[k] = getattr(self, "b%d_%s" % (i, k))

    def _norm(self, x, kind, w, b, eps):
        if kind == "layer":
            return F.layer_norm(x, (self.H,), w, b, eps)  # every norm is over H: a constant for the export
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w

    def _gelu(self, x):
        return F.gelu(x, approximate="tanh" if self.gelu_kind == "tanh" else "none")

    def forward(self, token, y, *h):
        fn = self.final
        logits = F.linear(self._norm(y, fn["kind"], fn["nw"], fn["nb"], fn["eps"]), self.head_w, self.head_b)
        score = torch.logsumexp(logits, -1) - logits.gather(-1, token.unsqueeze(-1)).squeeze(-1)
        x = F.embedding(token, self.embed)
        out = []
        for i, b in enumerate(self.blocks):
            h_re, h_im = h[2 * i], h[2 * i + 1]
            a = self._norm(x, b["kind"], b["nw"], b["nb"], b["eps"])
            bx = F.linear(a, b["B"])
            n = b["N"]
            re = b["lam_re"] * h_re - b["lam_im"] * h_im + bx[:, :n]
            im = b["lam_re"] * h_im + b["lam_im"] * h_re + bx[:, n:]
            m = F.linear(torch.cat([re, im], -1), b["C"]) + b["D"] * a
            if b["post"] == "glu":
                g = self._gelu(m)
                x = x + F.linear(g, b["w1"], b["b1"]) * torch.sigmoid(F.linear(g, b["w2"], b["b2"]))
            else:
                x = x + m
            out += [re, im]
        return (score, x, *out)

    def initial(self, batch=1):
        """(y, *h) of `batch` fresh keys: zeros, then the BOS token stepped when the model has one."""
        st = [torch.zeros(batch, self.H)] + [torch.zeros(batch, b["N"]) for b in self.blocks for _ in (0, 1)]
        if self.bos is not None:
            with torch.no_grad():
                st = list(self(torch.full((batch,), self.bos, dtype=torch.long), *st)[1:])
        return st


def load(model_dir):
    return LruStep(R.load_model(model_dir))
