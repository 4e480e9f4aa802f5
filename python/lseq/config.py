"""config.json: parsing and validation (MODEL_FORMAT.md, plus what docs/ENGINE.md adds).

`parse_config` mirrors the engine's ConfigParser: the same defaults, the same checks, and
errors that name the file and the field by its JSON path, e.g.
``config.json: field blocks[1].mixer.d_state: must be an integer, got "x"``.
"""

import json
import math

FORMAT = "lseq-model"
VERSION = 1
MIXERS = ("lru", "gru", "lstm", "attention", "gau")
HEADS = ("next_token", "classes", "regression")
INT_MAX = 2 ** 31 - 1


class ModelFormatError(ValueError):
    """A model directory, config or weights that MODEL_FORMAT.md (or the engine) rejects.
    The message starts with the file and names the field or tensor at fault."""


class _Invalid(Exception):
    pass


def _fail(path, msg):
    return _Invalid("field %s: %s" % (path, msg))


def _describe(v):
    if v is None:
        return "null"
    s = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return s[:40] + "..." if len(s) > 40 else s


def _quote(s):
    return "nothing" if s is None else '"%s"' % s


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Obj:
    """A JSON object with its path, for messages (the engine's ConfigParser.Obj)."""

    def __init__(self, node, prefix):
        if not isinstance(node, dict):
            raise _fail(prefix or "(root)", "must be an object, got " +
                        ("nothing" if node is _MISSING else _describe(node)))
        self.node, self.prefix = node, prefix

    def path(self, field):
        return field if not self.prefix else self.prefix + "." + field

    def has(self, field):
        return field in self.node

    def obj(self, field):
        if field not in self.node:
            raise _fail(self.path(field), "is required")
        return _Obj(self.node[field], self.path(field))

    def str(self, field, dflt):
        if field not in self.node:
            return dflt
        v = self.node[field]
        if not isinstance(v, str):
            raise _fail(self.path(field), "must be a string, got " + _describe(v))
        return v

    def bool(self, field, dflt):
        if field not in self.node:
            return dflt
        v = self.node[field]
        if not isinstance(v, bool):
            raise _fail(self.path(field), "must be true or false, got " + _describe(v))
        return v

    def integer(self, field, dflt):
        if field not in self.node:
            return dflt
        v = self.node[field]
        # 64.0 is accepted as 64, as the engine does.
        if not _is_num(v) or not math.isfinite(v) or v != math.floor(v) or abs(v) > INT_MAX:
            raise _fail(self.path(field), "must be an integer, got " + _describe(v))
        return int(v)

    def positive(self, field):
        if field not in self.node:
            raise _fail(self.path(field), "is required")
        v = self.integer(field, 0)
        if v <= 0:
            raise _fail(self.path(field), "must be positive, got %d" % v)
        return v

    def non_negative(self, field, dflt):
        v = self.integer(field, dflt)
        if v < 0:
            raise _fail(self.path(field), "must be 0 or more, got %d" % v)
        return v

    def number(self, field, dflt):
        if field not in self.node:
            return dflt
        v = self.node[field]
        if not _is_num(v):
            raise _fail(self.path(field), "must be a number, got " + _describe(v))
        return float(v)

    def positive_number(self, field, dflt):
        v = self.number(field, dflt)
        if not v > 0 or math.isinf(v):
            raise _fail(self.path(field), "must be a positive number, got %r" % v)
        return v

    def logn_base(self, field, dflt):
        v = self.number(field, dflt)
        if not v > 1 or math.isinf(v):
            raise _fail(self.path(field),
                        "must be a number greater than 1 (ln(T0) divides), got %r" % v)
        return v


_MISSING = object()


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError("duplicate field %s" % json.dumps(k))
        out[k] = v
    return out


def _reject_constant(name):
    raise ValueError("non-standard number %s" % name)


def read_json(text):
    """Strict JSON as the engine reads it: no NaN/Infinity, no duplicate fields."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)


def parse_config(config, file="config.json"):
    """Validates a config (a dict, or JSON text) and returns a normalized copy.

    The copy has every default filled in (``norm``, ``norm_eps``, ``gelu``, ``post``,
    ``rope_theta``, GAU's ``expansion``/``key_size``/``logn_base``, ``sinks``), integers
    as ints, ``mlp`` as ``{"hidden": M2}`` or absent, attention ``logn_base`` absent when
    there is no log-n scaling. Unknown fields are kept (the engine ignores them); two are
    read by this package: ``blocks[i].mixer.bias`` (attention: q/k/v/o biases, default
    false) and ``head.bias`` (next_token: ``head.bias`` tensor, default true unless
    ``tie_embeddings``). Raises ModelFormatError naming ``file`` and the JSON path.
    """
    try:
        if isinstance(config, (str, bytes)):
            try:
                config = read_json(config)
            except ValueError as e:
                raise _Invalid("not valid JSON: %s" % e)
        return _parse(config)
    except _Invalid as e:
        raise ModelFormatError("%s: %s" % (file, e)) from None


def _parse(root):
    if not isinstance(root, dict):
        raise _Invalid("must hold a JSON object")
    r = _Obj(root, "")
    out = json.loads(json.dumps(root))          # deep copy, unknown fields kept
    fmt = r.str("format", None)
    if fmt != FORMAT:
        raise _fail("format", 'must be "lseq-model", got ' + _quote(fmt))
    version = r.integer("version", -1)
    if version != VERSION:
        raise _fail("version", "version %d is not supported (this engine reads version 1)"
                    % version)
    name = r.str("name", None)
    if not name:
        raise _fail("name", "is required")
    H = r.positive("d_model")
    out.update(format=FORMAT, version=1, name=name, d_model=H)

    inp = r.obj("input")
    itype = inp.str("type", None)
    if itype == "tokens":
        V = inp.positive("vocab_size")
        o = {"type": "tokens", "vocab_size": V}
        if inp.has("bos_token"):
            bos = inp.integer("bos_token", -1)
            if bos < 0 or bos >= V:
                raise _fail("input.bos_token", "token %d is out of range [0, %d)" % (bos, V))
            o["bos_token"] = bos
    elif itype == "features":
        o = {"type": "features", "dim": inp.positive("dim")}
    else:
        raise _fail("input.type", 'must be "tokens" or "features", got ' + _quote(itype))
    out["input"] = dict(root["input"], **o)
    if itype == "tokens" and "bos_token" not in o:
        out["input"].pop("bos_token", None)

    norm = r.str("norm", "layer")
    if norm not in ("layer", "rms"):
        raise _fail("norm", 'must be "layer" or "rms", got ' + _quote(norm))
    eps = r.number("norm_eps", 1e-5)
    if not eps > 0:
        raise _fail("norm_eps", "must be positive, got %r" % eps)
    gelu = r.str("gelu", "erf")
    if gelu not in ("erf", "tanh"):
        raise _fail("gelu", 'must be "erf" or "tanh", got ' + _quote(gelu))
    out.update(norm=norm, norm_eps=eps, gelu=gelu)

    blocks = root.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        raise _fail("blocks", "must be a non-empty array")
    out["blocks"] = [_block(_Obj(b, "blocks[%d]" % i), H) for i, b in enumerate(blocks)]

    hd = r.obj("head")
    htype = hd.str("type", None)
    head = dict(root["head"])
    if htype == "next_token":
        if itype != "tokens":
            raise _fail("head.type", 'next_token requires "tokens" input')
        tie = hd.bool("tie_embeddings", False)
        head.update(type=htype, tie_embeddings=tie, bias=hd.bool("bias", not tie))
    elif htype == "classes":
        head.update(type=htype, num_classes=hd.positive("num_classes"))
    elif htype == "regression":
        dim = hd.positive("dim")
        if itype == "tokens" or dim != o["dim"]:
            raise _fail("head.dim", "regression predicts the next feature vector, so dim must "
                        "equal input.dim (%s), got %d"
                        % ("input is tokens" if itype == "tokens" else o["dim"], dim))
        head.update(type=htype, dim=dim)
    else:
        raise _fail("head.type", "unknown head type %s (next_token, classes or regression)"
                    % _quote(htype))
    out["head"] = head
    return out


def _block(b, H):
    m = b.obj("mixer")
    t = m.str("type", None)
    mix = dict(m.node)
    if t in ("lru", "gru", "lstm"):
        mix.update(type=t, d_state=m.positive("d_state"))
        width = H if t == "lru" else mix["d_state"]
    elif t == "attention":
        heads = m.positive("heads")
        if H % heads:
            raise _fail(m.path("heads"), "%d heads do not divide d_model %d" % (heads, H))
        if (H // heads) % 2:
            raise _fail(m.path("heads"), "head dim %d must be even for RoPE" % (H // heads))
        mix.update(type=t, heads=heads, window=m.positive("window"),
                   rope_theta=m.positive_number("rope_theta", 10000.0),
                   sinks=m.non_negative("sinks", 0), bias=m.bool("bias", False))
        if m.has("logn_base"):
            mix["logn_base"] = m.logn_base("logn_base", 0)
        width = H
    elif t == "gau":
        ks = m.positive("key_size") if m.has("key_size") else 128
        if ks % 2:
            raise _fail(m.path("key_size"), "must be even for RoPE, got %d" % ks)
        ex = m.positive("expansion") if m.has("expansion") else 2
        mix.update(type=t, expansion=ex, key_size=ks, window=m.positive("window"),
                   rope_theta=m.positive_number("rope_theta", 10000.0),
                   logn_base=m.logn_base("logn_base", 512.0), sinks=m.non_negative("sinks", 0))
        width = H
    else:
        raise _fail(m.path("type"), "unknown mixer type %s (lru, gru, lstm, attention or gau)"
                    % _quote(t))
    post = b.str("post", "glu")
    if post not in ("glu", "none"):
        raise _fail(b.path("post"), 'must be "glu" or "none", got ' + _quote(post))
    if post == "none" and width != H:
        raise _fail(b.path("post"), '"none" needs the mixer\'s output (%d) to equal d_model (%d)'
                    % (width, H))
    out = dict(b.node)
    out.update(mixer=mix, post=post)
    out.pop("mlp", None)
    if b.has("mlp") and b.node["mlp"] is not None:
        out["mlp"] = dict(b.node["mlp"], hidden=b.obj("mlp").positive("hidden"))
    return out


def mixer_width(config, block):
    """The mixer's output width M of a normalized block: N for gru/lstm, else d_model."""
    m = block["mixer"]
    return m["d_state"] if m["type"] in ("gru", "lstm") else config["d_model"]


def expected_shapes(config, attention_bias=None, head_bias=None):
    """{tensor name: shape} that a normalized config needs, in a stable order.
    attention_bias / head_bias override the config's ``bias`` fields (used by the loader,
    which learns them from the tensor file)."""
    H = config["d_model"]
    s = {}
    inp = config["input"]
    if inp["type"] == "tokens":
        s["embed.weight"] = (inp["vocab_size"], H)
    else:
        s["input_proj.weight"] = (H, inp["dim"])
        s["input_proj.bias"] = (H,)
    layer = config["norm"] == "layer"
    for i, b in enumerate(config["blocks"]):
        p = "blocks.%d." % i
        s[p + "norm.weight"] = (H,)
        if layer:
            s[p + "norm.bias"] = (H,)
        m = b["mixer"]
        t, q = m["type"], p + "mixer."
        if t == "lru":
            N = m["d_state"]
            for n in ("nu_log", "theta_log", "gamma_log"):
                s[q + n] = (N,)
            s[q + "B_re"] = s[q + "B_im"] = (N, H)
            s[q + "C_re"] = s[q + "C_im"] = (H, N)
            s[q + "D"] = (H,)
        elif t in ("gru", "lstm"):
            N, g = m["d_state"], 3 if t == "gru" else 4
            s[q + "weight_ih_l0"] = (g * N, H)
            s[q + "weight_hh_l0"] = (g * N, N)
            s[q + "bias_ih_l0"] = s[q + "bias_hh_l0"] = (g * N,)
        elif t == "attention":
            bias = m["bias"] if attention_bias is None else attention_bias[i]
            for n in "qkvo":
                s[q + n + ".weight"] = (H, H)
                if bias:
                    s[q + n + ".bias"] = (H,)
        else:
            E, S = m["expansion"] * H, m["key_size"]
            s[q + "i_dense.weight"] = (2 * E + S, H)
            s[q + "i_dense.bias"] = (2 * E + S,)
            for n in ("q_scale", "q_offset", "k_scale", "k_offset"):
                s[q + n] = (S,)
            s[q + "o_dense.weight"] = (H, E)
            s[q + "o_dense.bias"] = (H,)
        M = mixer_width(config, b)
        if b["post"] == "glu":
            for n in ("out1", "out2"):
                s[p + n + ".weight"] = (H, M)
                s[p + n + ".bias"] = (H,)
        if "mlp" in b:
            M2 = b["mlp"]["hidden"]
            s[p + "mlp_norm.weight"] = (H,)
            if layer:
                s[p + "mlp_norm.bias"] = (H,)
            s[p + "mlp.fc1.weight"] = (M2, H)
            s[p + "mlp.fc1.bias"] = (M2,)
            s[p + "mlp.fc2.weight"] = (H, M2)
            s[p + "mlp.fc2.bias"] = (H,)
    s["final_norm.weight"] = (H,)
    if layer:
        s["final_norm.bias"] = (H,)
    hd = config["head"]
    if hd["type"] == "next_token":
        V = inp["vocab_size"]
        if not hd["tie_embeddings"]:
            s["head.weight"] = (V, H)
        if hd["bias"] if head_bias is None else head_bias:
            s["head.bias"] = (V,)
    else:
        K = hd["num_classes"] if hd["type"] == "classes" else hd["dim"]
        s["head.weight"] = (K, H)
        s["head.bias"] = (K,)
    return s
