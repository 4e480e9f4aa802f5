"""model.safetensors and config.json: `save`, `load`, and the safetensors reader/writer.

No `safetensors` package is needed: the layout is an 8-byte little-endian header length,
a JSON header ``{name: {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}``, then
the raw little-endian bytes. F32, F16 and BF16 are read and written.
"""

import json
import math
import os
import struct

import numpy as np
import torch

from .config import ModelFormatError, expected_shapes, parse_config, read_json

MAX_HEADER_BYTES = 100_000_000
DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """Writes {name: tensor} to ``path`` in ``dtype`` (F32, F16 or BF16), names sorted,
    each tensor 8-byte aligned. Values are rounded to the dtype (round to nearest even)."""
    if dtype not in DTYPES:
        raise ValueError("dtype must be F32, F16 or BF16, got %r" % (dtype,))
    tdt, _ = DTYPES[dtype]
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").to(tdt).contiguous()
        if dtype == "BF16":
            data = t.view(torch.int16).numpy().astype("<i2", copy=False).tobytes()
        else:
            data = t.numpy().astype("<f4" if dtype == "F32" else "<f2", copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path, name=None):
    """Reads a safetensors file into {name: float32 tensor} (F32, F16, BF16), checking
    the layout as the engine does: header length, JSON, dtypes, shapes, offsets in range
    and not overlapping, finite values. Errors name the file (``name``, default ``path``)
    and the tensor."""
    name = name or path
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        raise ModelFormatError("%s: no such file" % name) from None
    except OSError as e:
        raise ModelFormatError("%s: cannot read: %s" % (name, e)) from None
    return parse_safetensors(blob, name)[0]


def parse_safetensors(blob, name="model.safetensors"):
    """As read_safetensors, from bytes; returns (tensors, dtypes): {name: float32 tensor},
    {name: "F32"|"F16"|"BF16"}."""
    def fail(msg):
        return ModelFormatError("%s: %s" % (name, msg))
    size = len(blob)
    if size < 8:
        raise fail("file is %d bytes, too short for a safetensors header" % size)
    hlen = struct.unpack("<Q", blob[:8])[0]
    if hlen == 0 or hlen > MAX_HEADER_BYTES:
        raise fail("header length %d is outside (0, %d] bytes" % (hlen, MAX_HEADER_BYTES))
    if 8 + hlen > size:
        raise fail("header length %d runs past the end of the %d-byte file" % (hlen, size))
    try:
        header = read_json(blob[8:8 + hlen].decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise fail("header is not valid JSON: %s" % e) from None
    if not isinstance(header, dict):
        raise fail("header must be a JSON object")
    data_len = size - 8 - hlen
    entries = []
    for tname, e in header.items():
        if tname == "__metadata__":
            continue
        where = "tensor " + tname
        if not isinstance(e, dict):
            raise fail(where + ": header entry must be an object")
        dt = e.get("dtype")
        if not isinstance(dt, str):
            raise fail(where + ": missing string field dtype")
        if dt not in DTYPES:
            raise fail(where + ": dtype %s is not supported (F32, F16 or BF16)" % dt)
        shape = e.get("shape")
        if not isinstance(shape, list):
            raise fail(where + ": missing array field shape")
        if any(not isinstance(d, int) or isinstance(d, bool) or d < 0 or d > 2**31 - 1
               for d in shape):
            raise fail(where + ": shape %s must hold non-negative integers" % json.dumps(shape))
        numel = math.prod(shape)
        if numel > 2**31 - 9:
            raise fail(where + ": shape %s is too large for one tensor" % json.dumps(shape))
        offs = e.get("data_offsets")
        if (not isinstance(offs, list) or len(offs) != 2
                or any(not isinstance(o, int) or isinstance(o, bool) for o in offs)):
            raise fail(where + ": data_offsets must be [begin, end]")
        begin, end = offs
        if begin < 0 or end < begin or end > data_len:
            raise fail(where + ": data_offsets [%d, %d] are out of range of the %d-byte data "
                       "section" % (begin, end, data_len))
        nbytes = numel * DTYPES[dt][1]
        if end - begin != nbytes:
            raise fail(where + ": data_offsets [%d, %d] hold %d bytes but shape %s of %s "
                       "needs %d" % (begin, end, end - begin, json.dumps(shape), dt, nbytes))
        entries.append((tname, dt, shape, begin, end))
    by_off = sorted(entries, key=lambda x: (x[3], x[4]))
    for prev, cur in zip(by_off, by_off[1:]):
        if cur[3] < prev[4]:
            raise fail("tensor %s bytes [%d, %d) overlap tensor %s bytes [%d, %d)"
                       % (cur[0], cur[3], cur[4], prev[0], prev[3], prev[4]))
    start = 8 + hlen
    tensors, dtypes = {}, {}
    for tname, dt, shape, begin, end in entries:
        raw = blob[start + begin:start + end]
        if dt == "BF16":
            a = np.frombuffer(raw, dtype="<i2").copy()
            t = torch.from_numpy(a).view(torch.bfloat16).float()
        else:
            a = np.frombuffer(raw, dtype="<f4" if dt == "F32" else "<f2").astype(np.float32)
            t = torch.from_numpy(a)
        bad = (~torch.isfinite(t)).nonzero()
        if len(bad):
            i = int(bad[0])
            raise fail("tensor %s holds %s at flat index %d; weights must be finite"
                       % (tname, _java_float(float(t[i])), i))
        tensors[tname] = t.reshape(shape)
        dtypes[tname] = dt
    return tensors, dtypes


def _java_float(v):
    return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")


def check_weights(config, tensors, file="model.safetensors"):
    """Checks {name: tensor} against a normalized config as the engine's loader does and
    returns the config with ``bias`` fields set from the file (attention biases, next_token
    ``head.bias``). Errors: missing, unexpected or wrongly shaped tensors, attention biases
    that are not all four or none, LRU theta_log/gamma_log whose exp overflows."""
    cfg = json.loads(json.dumps(config))
    att = {}
    for i, b in enumerate(cfg["blocks"]):
        if b["mixer"]["type"] == "attention":
            p = "blocks.%d.mixer." % i
            n = sum(p + x + ".bias" in tensors for x in "qkvo")
            if n not in (0, 4):
                raise ModelFormatError("%s: %s{q,k,v,o}.bias: attention biases must be all four "
                                       "or none, found %d" % (file, p, n))
            b["mixer"]["bias"] = n == 4
            att[i] = n == 4
    if cfg["head"]["type"] == "next_token":
        cfg["head"]["bias"] = "head.bias" in tensors
    want = expected_shapes(cfg)
    for tname, shape in want.items():
        if tname not in tensors:
            raise ModelFormatError("%s: missing tensor %s (expected shape %s)"
                                   % (file, tname, _shape(shape)))
        got = tuple(tensors[tname].shape)
        if got != tuple(shape):
            raise ModelFormatError("%s: tensor %s has shape %s, expected %s"
                                   % (file, tname, _shape(got), _shape(shape)))
    left = [n for n in tensors if n not in want]
    if left:
        raise ModelFormatError("%s: unexpected tensor %s %s%s: the config does not use it"
                               % (file, left[0], _shape(tensors[left[0]].shape),
                                  " (and %d more)" % (len(left) - 1) if len(left) > 1 else ""))
    for i, b in enumerate(cfg["blocks"]):
        if b["mixer"]["type"] != "lru":
            continue
        p = "blocks.%d.mixer." % i
        for tn, lim in (("gamma_log", math.log(3.4028234663852886e38)), ("theta_log", 709.78)):
            v = tensors[p + tn].double()
            over = (v > lim).nonzero()
            if len(over):
                j = int(over[0])
                raise ModelFormatError("%s: tensor %s%s[%d] = %s overflows exp()"
                                       % (file, p, tn, j, float(v[j])))
    return cfg


def _shape(s):
    return "[" + ", ".join(str(int(d)) for d in s) + "]"


def save(model, directory, dtype="F32"):
    """Writes ``config.json`` and ``model.safetensors`` of an LseqModel into ``directory``
    (created if needed). dtype: "F32" (exact), "F16" or "BF16" (weights rounded to it).
    The config written records which optional tensors exist (``bias`` fields the engine
    ignores), so ``load(directory)`` rebuilds the same module."""
    if dtype not in DTYPES:
        raise ValueError("dtype must be F32, F16 or BF16, got %r" % (dtype,))
    os.makedirs(directory, exist_ok=True)
    sd = model.state_dict()
    cfg = check_weights(model.config, sd, "model")
    write_safetensors(os.path.join(directory, "model.safetensors"), sd, dtype)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    return directory


def load(directory, dtype=torch.float32, lru_init=None):
    """Reads a model directory (config.json + model.safetensors) into an LseqModel in
    ``dtype`` (float32 by default). Every rejection names the file and the field or
    tensor, as the engine's loader does."""
    from .model import LseqModel
    if not os.path.isdir(directory):
        raise ModelFormatError("%s: %s" % (directory, "is not a directory" if os.path.exists(
            directory) else "no such model directory"))
    cpath = os.path.join(directory, "config.json")
    try:
        with open(cpath, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ModelFormatError("%s: no such file" % cpath) from None
    cfg = parse_config(text, cpath)
    wpath = os.path.join(directory, "model.safetensors")
    tensors = read_safetensors(wpath)
    cfg = check_weights(cfg, tensors, wpath)
    model = LseqModel(cfg, lru_init)
    model.load_state_dict(tensors, strict=True)
    return model.to(dtype)
