"""Converters into the lseq format: plain torch RNN stacks, and minimal-LRU (JAX/Flax)
parameter trees saved as .npz. One call each; both return an LseqModel."""

import math

import numpy as np
import torch
import torch.nn as nn

from .config import ModelFormatError
from .model import LseqModel

# A plain RNN stack has no residual and no pre-norm, the format's blocks have both. The
# conversion keeps every layer's output in its own slice of the residual stream, makes the
# format's norms an identity (rms with eps = 2^40 and weight 2^20: x * 2^20 / sqrt(ms + 2^40)
# differs from x by ms / 2^41, below 1e-10 for activations of order 1), and lets each block
# write its RNN output exactly into its slice: the RNN runs with 2N units holding [h, -h],
# and since gelu(z) - gelu(-z) = z (erf and tanh GELU alike), out1 = [P, -P] gives P h after
# the GELU, with out2 = 0 and bias 100 making the sigmoid gate exactly 1.
_EPS = 2.0 ** 40
_W_ID = 2.0 ** 20
_GATE = 100.0


class ConversionError(ModelFormatError):
    """A source model that the lseq format cannot express (named part and reason)."""


def _rnn_layers(rnns):
    """[(kind, W_ih, W_hh, b_ih, b_hh)] of every layer of a list of nn.GRU/nn.LSTM."""
    out = []
    for i, r in enumerate(rnns):
        kind = "gru" if isinstance(r, nn.GRU) else "lstm" if isinstance(r, nn.LSTM) else None
        if kind is None:
            raise ConversionError("rnns[%d]: %s is not an nn.GRU or nn.LSTM (plain nn.RNN has no "
                                  "equivalent in the format)" % (i, type(r).__name__))
        if r.bidirectional:
            raise ConversionError("rnns[%d]: bidirectional %s has no equivalent in the format "
                                  "(a stream is scored causally, event by event)" % (i, kind))
        if getattr(r, "proj_size", 0):
            raise ConversionError("rnns[%d]: LSTM proj_size has no equivalent in the format" % i)
        for l in range(r.num_layers):
            g = lambda n: getattr(r, "%s_l%d" % (n, l), None)
            N = r.hidden_size
            z = torch.zeros((3 if kind == "gru" else 4) * N)
            out.append((kind, g("weight_ih").detach(), g("weight_hh").detach(),
                        z if g("bias_ih") is None else g("bias_ih").detach(),
                        z if g("bias_hh") is None else g("bias_hh").detach()))
    return out


def _mirror(kind, W_ih, W_hh, b_ih, b_hh, cols, H):
    """Weights of a 2N-unit RNN whose state is [h, -h]: the copy units share the gates and
    negate the candidate (GRU n, LSTM g); W_ih reads the stream columns ``cols``."""
    N = W_hh.shape[1]
    G = 3 if kind == "gru" else 4
    neg = 2                 # the candidate's gate index: GRU (r, z, n), LSTM (i, f, g, o)
    wi = torch.zeros(G * 2 * N, H)
    wh = torch.zeros(G * 2 * N, 2 * N)
    bi = torch.zeros(G * 2 * N)
    bh = torch.zeros(G * 2 * N)
    for gate in range(G):
        s = 1.0 if gate != neg else -1.0
        src = slice(gate * N, gate * N + N)
        for copy, sign in ((0, 1.0), (1, s)):
            dst = slice(gate * 2 * N + copy * N, gate * 2 * N + copy * N + N)
            wi[dst, cols] = sign * W_ih[src]
            wh[dst, :N] = sign * W_hh[src]
            bi[dst] = sign * b_ih[src]
            bh[dst] = sign * b_hh[src]
    return wi, wh, bi, bh


def from_torch_rnn(rnns, head, embedding=None, input_dim=None, input_norm=None,
                   final_norm=None, head_type=None, name="converted-rnn", bos_token=None):
    """Converts embedding/features -> nn.GRU or nn.LSTM stack -> [norm] -> nn.Linear into an
    LseqModel that computes the same per-event outputs (within float rounding).

    rnns: an nn.GRU or nn.LSTM, or a list of them run one after the other (any
    ``num_layers``, ``batch_first`` either way: it only changes the input layout; no
    bidirectional, no LSTM ``proj_size``). embedding: an nn.Embedding (tokens input), or
    None with ``input_dim`` (raw features). input_norm: an nn.LayerNorm on the embeddings
    (tokens only: folded into the table). final_norm: an nn.LayerNorm on the last RNN's
    output before the head. head: an nn.Linear. head_type: "next_token" (tokens, default),
    "classes" (default for features) or "regression". Norms between RNN layers are refused.

    The result has one block per RNN layer (GRU/LSTM mixers of 2N units), d_model = the
    input width plus every layer's hidden size, and per-event outputs equal to the torch
    model's; its config carries ``name`` and ``bos_token`` (when the model was trained with
    a BOS token first).
    """
    rnns = list(rnns) if isinstance(rnns, (list, tuple, nn.ModuleList)) else [rnns]
    layers = _rnn_layers(rnns)
    if not isinstance(head, nn.Linear):
        raise ConversionError("head: %s is not an nn.Linear (a pooled or multi-layer classifier "
                              "has no equivalent: the format emits one output per event)"
                              % type(head).__name__)
    for nm, n in (("input_norm", input_norm), ("final_norm", final_norm)):
        if n is not None and not isinstance(n, nn.LayerNorm):
            raise ConversionError("%s: %s is not supported (nn.LayerNorm only; BatchNorm has no "
                                  "equivalent in a streaming model)" % (nm, type(n).__name__))
    if embedding is not None:
        if not isinstance(embedding, nn.Embedding):
            raise ConversionError("embedding: %s is not an nn.Embedding" % type(embedding).__name__)
        E = embedding.embedding_dim
        V = embedding.num_embeddings
        inp = {"type": "tokens", "vocab_size": V}
        if bos_token is not None:
            inp["bos_token"] = int(bos_token)
        head_type = head_type or "next_token"
    else:
        if input_dim is None:
            raise ConversionError("give embedding (tokens) or input_dim (features)")
        if input_norm is not None:
            raise ConversionError("input_norm: a norm on raw features has no exact equivalent "
                                  "here; normalize the features before scoring")
        E = int(input_dim)
        inp = {"type": "features", "dim": E}
        head_type = head_type or "classes"
    if layers[0][1].shape[1] != E:
        raise ConversionError("rnns[0]: input size %d, but the input is %d wide"
                              % (layers[0][1].shape[1], E))
    widths = [E] + [l[2].shape[1] for l in layers]
    for i in range(1, len(layers)):
        if layers[i][1].shape[1] != widths[i]:
            raise ConversionError("RNN layer %d: input size %d, but layer %d outputs %d"
                                  % (i, layers[i][1].shape[1], i - 1, widths[i]))
    offs = np.cumsum([0] + widths).tolist()
    H = offs[-1]
    K = head.out_features
    if head.in_features != widths[-1]:
        raise ConversionError("head: in_features %d, but the last RNN layer outputs %d"
                              % (head.in_features, widths[-1]))
    if head_type == "next_token":
        if embedding is None:
            raise ConversionError("head_type next_token needs an embedding (tokens input)")
        if K != V:
            raise ConversionError("head: %d outputs, next_token needs vocab_size %d" % (K, V))
        hcfg = {"type": "next_token", "tie_embeddings": False, "bias": True}
    elif head_type == "classes":
        hcfg = {"type": "classes", "num_classes": K}
    elif head_type == "regression":
        hcfg = {"type": "regression", "dim": K}
    else:
        raise ConversionError("head_type must be next_token, classes or regression")
    cfg = {"format": "lseq-model", "version": 1, "name": name, "d_model": H, "input": inp,
           "norm": "rms", "norm_eps": _EPS, "gelu": "erf",
           "blocks": [{"mixer": {"type": l[0], "d_state": 2 * l[2].shape[1]}, "post": "glu"}
                      for l in layers],
           "head": hcfg}
    model = LseqModel(cfg)
    N_last = widths[-1]
    # With a final LayerNorm the last block writes s * (h - mean(h)) into its slice, s large
    # enough that the stream's other slices do not count, and chosen so that the rms norm
    # with eps 2^40 computes exactly LayerNorm(h) * sqrt(H / N) (the head takes the rest).
    s_final = math.sqrt(_EPS * H / (N_last * final_norm.eps)) if final_norm is not None else 1.0
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        if embedding is not None:
            W = embedding.weight.detach().float()
            if input_norm is not None:
                W = input_norm(W).detach()
            model.embed.weight[:, :E] = W
        else:
            model.input_proj.weight[:, :] = 0
            model.input_proj.weight[:E, :E] = torch.eye(E)
        for i, (blk, lay) in enumerate(zip(model.blocks, layers)):
            N = widths[i + 1]
            blk.norm.weight.fill_(_W_ID)
            wi, wh, bi, bh = _mirror(lay[0], *lay[1:], slice(offs[i], offs[i + 1]), H)
            blk.mixer.weight_ih_l0.copy_(wi)
            blk.mixer.weight_hh_l0.copy_(wh)
            blk.mixer.bias_ih_l0.copy_(bi)
            blk.mixer.bias_hh_l0.copy_(bh)
            P = torch.eye(N)
            last = i == len(layers) - 1
            if last and final_norm is not None:
                P = s_final * (torch.eye(N) - 1.0 / N)            # s * centering
            out = slice(offs[i + 1], offs[i + 2])
            blk.out1.weight[out, :N] = P
            blk.out1.weight[out, N:] = -P
            blk.out2.bias.fill_(_GATE)
        hw, hb = head.weight.detach().float(), (head.bias.detach().float() if head.bias
                                                 is not None else torch.zeros(K))
        last = slice(offs[-2], offs[-1])
        if final_norm is not None:
            model.final_norm.weight.fill_(1.0)
            w = final_norm.weight.detach().float() if final_norm.weight is not None else \
                torch.ones(N_last)
            b = final_norm.bias.detach().float() if final_norm.bias is not None else \
                torch.zeros(N_last)
            model.head.weight[:, last] = hw * w / math.sqrt(H / N_last)
            model.head.bias.copy_(hb + hw @ b)
        else:
            model.final_norm.weight.fill_(_W_ID)
            model.head.weight[:, last] = hw
            model.head.bias.copy_(hb)
    return model


# ---------------------------------------------------------------------------------------
# minimal-LRU (github.com/NicolasZucchet/minimal-LRU): Flax parameter trees as .npz
# ---------------------------------------------------------------------------------------

_LRU_NAMES = ("nu_log", "theta_log", "gamma_log", "B_re", "B_im", "C_re", "C_im", "D")


def _flatten_keys(arrays):
    """{'a/b/c' or 'a.b.c': array} with a leading 'params/' dropped -> {('a','b','c'): array}."""
    out = {}
    for k, v in arrays.items():
        parts = [p for p in k.replace(".", "/").split("/") if p]
        if parts and parts[0] == "params":
            parts = parts[1:]
        out[tuple(parts)] = np.asarray(v)
    return out


def from_minimal_lru(npz, input_type="features", head_type=None,
                     name="converted-lru", gelu="tanh", norm_eps=1e-6, bos_token=None,
                     pooling="none"):
    """Converts a minimal-LRU model's parameters (a .npz path or a dict of arrays, keys the
    flattened Flax tree joined by '/' or '.', e.g. ``params/encoder/layers_0/seq/nu_log``)
    into an LseqModel.

    Expected tree (minimal-LRU's lru/model.py): ``encoder/encoder`` (nn.Dense, features
    input; ``embedding`` for tokens with input_type="tokens"), ``encoder/layers_{i}`` each a
    SequenceLayer with ``seq`` (the LRU: nu_log, theta_log, gamma_log, B_re, B_im, C_re,
    C_im, D), ``norm`` (nn.LayerNorm: scale, bias), ``out1`` and ``out2`` (nn.Dense); and
    ``decoder`` (nn.Dense) applied per event. Each SequenceLayer (norm -> LRU -> GELU ->
    out1 * sigmoid(out2) -> + input) is one block ``{"mixer": lru, "post": "glu"}``; the
    format's final_norm is ``final_norm`` (scale, bias): the format applies a norm before
    every head, so a tree whose decoder reads the last layer's raw output is refused.
    Dense kernels [in, out] are transposed to [out, in]. GELU defaults to "tanh" (JAX's
    default) and the norm eps to 1e-6 (Flax's LayerNorm default).

    pooling: the source model's setting (minimal-LRU's ClassificationModel has no
    parameters for it, so say it): "none" (decoder per event) and "last" (the classifier of
    the last event, which the per-event classes head emits at every event) convert; "mean"
    is refused.

    Refused: BatchNorm layers (``batch_stats`` or ``norm/mean``), mean pooling,
    bidirectional layers, a missing final norm, any parameter with no place in the format.
    """
    if isinstance(npz, (str, bytes)) or hasattr(npz, "read"):
        with np.load(npz) as z:
            arrays = {k: z[k] for k in z.files}
    else:
        arrays = dict(npz)
    tree = _flatten_keys(arrays)
    if any("batch_stats" in k for k in tree) or any(k[-1] in ("mean", "var") for k in tree):
        raise ConversionError("BatchNorm (batch_stats) has no equivalent in the format: "
                              "a streaming model cannot normalize over a batch; retrain with "
                              "LayerNorm (minimal-LRU's norm='layer')")
    if any("backward" in "/".join(k) or "bidir" in "/".join(k) for k in tree):
        raise ConversionError("bidirectional layers have no equivalent in the format")
    keys = {k[1:] if k and k[0] == "encoder" and len(k) > 2 else k: v for k, v in tree.items()}
    # after dropping the outer "encoder/": ("encoder", ...), ("layers_0", ...), ("decoder", ...)
    used = set()

    def take(*path):
        if path not in keys:
            raise ConversionError("npz: missing parameter %s" % "/".join(path))
        used.add(path)
        return torch.from_numpy(np.asarray(keys[path], dtype=np.float32).copy())

    n_layers = 0
    while any(k[0] == "layers_%d" % n_layers for k in keys):
        n_layers += 1
    if n_layers == 0:
        raise ConversionError("npz: no layers_0/... found (expected minimal-LRU's "
                              "encoder/layers_{i}/seq/nu_log, ...)")
    if pooling not in ("none", "last") or any(k[0].startswith("pool") for k in keys):
        raise ConversionError("a pooled classifier (pooling %r) has no equivalent in the format: "
                              "it emits one output per event, from the events so far; use "
                              "pooling 'none' or 'last'" % pooling)
    H = keys[("layers_0", "seq", "B_re")].shape[1] if ("layers_0", "seq", "B_re") in keys \
        else take("layers_0", "seq", "B_re")             # (raises: missing parameter)
    if input_type == "tokens":
        emb_key = next((k for k in keys if k[0] in ("embedding", "embed", "encoder")
                        and k[-1] == "embedding"), None)
        if emb_key is None:
            raise ConversionError("npz: tokens input needs an embedding table (encoder/embedding)")
        emb = take(*emb_key)
        inp = {"type": "tokens", "vocab_size": int(emb.shape[0])}
        if bos_token is not None:
            inp["bos_token"] = int(bos_token)
    else:
        enc_w = take("encoder", "kernel")
        enc_b = take("encoder", "bias") if ("encoder", "bias") in keys else torch.zeros(H)
        inp = {"type": "features", "dim": int(enc_w.shape[0])}
    if ("decoder", "kernel") not in keys:
        raise ConversionError("npz: missing parameter decoder/kernel (the per-event head)")
    dec_w, dec_b = take("decoder", "kernel"), take("decoder", "bias")
    K = dec_w.shape[1]
    head_type = head_type or ("next_token" if input_type == "tokens" else "classes")
    hcfg = {"next_token": {"type": "next_token", "tie_embeddings": False, "bias": True},
            "classes": {"type": "classes", "num_classes": K},
            "regression": {"type": "regression", "dim": K}}.get(head_type)
    if hcfg is None:
        raise ConversionError("head_type must be next_token, classes or regression")
    cfg = {"format": "lseq-model", "version": 1, "name": name, "d_model": int(H),
           "input": inp, "norm": "layer", "norm_eps": norm_eps, "gelu": gelu,
           "blocks": [{"mixer": {"type": "lru", "d_state": int(
               take("layers_%d" % i, "seq", "nu_log").shape[0])}, "post": "glu"}
               for i in range(n_layers)],
           "head": hcfg}
    model = LseqModel(cfg)
    sd = {}
    if input_type == "tokens":
        sd["embed.weight"] = emb
    else:
        sd["input_proj.weight"] = enc_w.t()
        sd["input_proj.bias"] = enc_b
    for i in range(n_layers):
        L = "layers_%d" % i
        p = "blocks.%d." % i
        for n in _LRU_NAMES:
            sd[p + "mixer." + n] = take(L, "seq", n)
        sd[p + "norm.weight"] = take(L, "norm", "scale")
        sd[p + "norm.bias"] = take(L, "norm", "bias")
        for o in ("out1", "out2"):
            sd[p + o + ".weight"] = take(L, o, "kernel").t()
            sd[p + o + ".bias"] = take(L, o, "bias")
    fn = next((k for k in (("final_norm",), ("norm",), ("encoder_norm",)) if k + ("scale",)
               in keys), None)
    if fn is None:
        raise ConversionError(
            "npz: no final norm: the decoder reads the last layer's raw output, but the format "
            "always applies final_norm (a LayerNorm, like the layers' norms) before the head, "
            "and a LayerNorm cannot be made an identity; add a LayerNorm before the decoder "
            "(parameters final_norm/scale, final_norm/bias) and fine-tune")
    sd["final_norm.weight"] = take(*fn, "scale")
    sd["final_norm.bias"] = take(*fn, "bias")
    sd["head.weight"] = dec_w.t()
    sd["head.bias"] = dec_b
    left = [k for k in keys if k not in used]
    if left:
        raise ConversionError("npz: parameter %s has no equivalent in the format"
                              % "/".join(left[0]))
    model.load_state_dict(sd, strict=True)
    return model
