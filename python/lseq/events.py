"""EVENTS.md: parsing and validating events, scoring JSON Lines files, dead letters.

Validation follows the engine (connectors' EventParser) check for check and message for
message; only the wording of JSON syntax errors differs (Python's parser, not Jackson's).
"""

import codecs
import decimal
import json
import math

import numpy as np
import torch

MAX_RECORD_BYTES = 1 << 20
MAX_KEY_BYTES = 256
RAW_CUT_BYTES = 4096
LONG_MAX = 2 ** 63 - 1


class EventError(ValueError):
    """A record that is not a valid event; the message is the dead letter's ``error``."""


class _Pairs(list):
    """A JSON object as its (name, value) pairs in order, repeats kept."""


def _describe(v):
    if v is None:
        return "null"
    if isinstance(v, _Pairs):
        return "an object"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a fractional number"
    if isinstance(v, str):
        return "a string"
    return "an array"


def _clip(s):
    return s[:32] + "..." if len(s) > 32 else s


_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs)


def _utf8_length(field, s):
    """UTF-8 bytes of s; an unpaired surrogate (from a \\u escape) is rejected, naming its
    UTF-16 index as the engine does."""
    n = i16 = 0
    for ch in s:
        c = ord(ch)
        if 0xD800 <= c <= 0xDFFF:
            raise EventError("%s is not valid Unicode (unpaired surrogate \\u%x at char %d)"
                             % (field, c, i16))
        n += 1 if c < 0x80 else 2 if c < 0x800 else 3 if c < 0x10000 else 4
        i16 += 2 if c >= 0x10000 else 1
    return n


def parse_event(record, input_config):
    """Parses one record (bytes or str, no newline) against the model's normalized
    ``input`` config. Returns {"key", "ts"?, "id"?, "token" | "features"}; raises
    EventError with the engine's reason."""
    if isinstance(record, str):
        record = record.encode("utf-8")
    if len(record) > MAX_RECORD_BYTES:
        raise EventError("record is %d bytes, over the 1 MiB (%d-byte) limit"
                         % (len(record), MAX_RECORD_BYTES))
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EventError("not valid UTF-8 (byte 0x%x at offset %d)"
                         % (record[e.start], e.start)) from None
    if not text.strip():
        raise EventError("empty record")
    start = len(text) - len(text.lstrip())
    try:
        obj, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as e:
        raise EventError("not valid JSON: %s" % e) from None
    except RecursionError:
        raise EventError("not valid JSON: nested too deep") from None
    if not isinstance(obj, _Pairs):
        raise EventError("event must be a JSON object, got " + _describe(obj))
    if text[end:].strip():
        raise EventError("not valid JSON: trailing content after the event object")
    ev = {}
    token = None
    feats = None
    seen = set()
    for field, v in obj:
        if field in seen:       # unknown fields are ignored, but not when repeated
            raise EventError('duplicate field "%s"' % _clip(field))
        seen.add(field)
        if field == "key":
            if not isinstance(v, str):
                raise EventError("key must be a string, got " + _describe(v))
            ev["key"] = v
        elif field == "ts":
            if v is None:
                continue
            if not isinstance(v, int) or isinstance(v, bool) or abs(v) > LONG_MAX:
                raise EventError("ts must be an integer (epoch milliseconds), got " + _describe(v))
            ev["ts"] = v
        elif field == "id":
            if v is None:
                continue
            if not isinstance(v, str):
                raise EventError("id must be a string, got " + _describe(v))
            _utf8_length("id", v)
            ev["id"] = v
        elif field == "token":
            if not isinstance(v, int) or isinstance(v, bool):
                got = "NaN" if isinstance(v, float) and math.isnan(v) else _describe(v)
                if isinstance(v, str):
                    got += ' "%s"' % _clip(v)
                raise EventError("token must be an integer, got " + got)
            token = v
        elif field == "features":
            feats = _features(v)
    if "key" not in ev:
        raise EventError("missing key")
    kb = _utf8_length("key", ev["key"])
    if kb == 0 or kb > MAX_KEY_BYTES:
        raise EventError("key is %d UTF-8 bytes, must be 1..%d" % (kb, MAX_KEY_BYTES))
    if token is not None and feats is not None:
        raise EventError("event has both token and features, needs exactly one")
    if input_config["type"] == "tokens":
        if token is None:
            raise EventError("model takes tokens, event has features" if feats is not None
                             else "missing token")
        V = input_config["vocab_size"]
        if token < 0 or token >= V:
            raise EventError("token %s out of range [0, %d)"
                             % ("(huge)" if token > LONG_MAX else token, V))
        ev["token"] = token
        return ev
    if feats is None:
        raise EventError("model takes features, event has a token" if token is not None
                         else "missing features")
    if len(feats) != input_config["dim"]:
        raise EventError("expected %d features, got %d" % (input_config["dim"], len(feats)))
    ev["features"] = feats
    return ev


def _java_double(d):
    """d as Java's Double.toString writes it (the engine's messages): 1.0E39, 0.5, 100.0."""
    if d != d or math.isinf(d):
        return "NaN" if d != d else ("Infinity" if d > 0 else "-Infinity")
    if d == 0 or 1e-3 <= abs(d) < 1e7:
        return repr(float(d))                     # Python writes these ranges as Java does
    sign, digits, exp = decimal.Decimal(repr(d)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    return "%s%s.%sE%d" % ("-" if sign else "", ds[0], ds[1:] or "0", len(ds) - 1 + exp)


def _features(v):
    if not isinstance(v, list) or isinstance(v, _Pairs):
        raise EventError("features must be an array of numbers, got " + _describe(v))
    out = []
    for i, x in enumerate(v):
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            raise EventError("features[%d] must be a number, got %s" % (i, _describe(x)))
        d = float(x)
        with np.errstate(over="ignore"):
            finite = math.isfinite(np.float32(d))
        if not finite:
            what = "NaN" if d != d else "infinite" if math.isinf(d) else \
                "%s, beyond float32 range" % _java_double(d)
            raise EventError("features[%d] is %s; features must be finite" % (i, what))
        out.append(d)
    return out


def _java_replace(e):
    """Decoding errors replaced as Java's UTF-8 decoder does: like Python's (one U+FFFD per
    maximal ill-formed subpart), except that an encoded surrogate (ED A0..BF xx) is one
    U+FFFD for its three bytes."""
    b, i = e.object, e.start
    if (b[i] == 0xED and i + 2 < len(b) and 0xA0 <= b[i + 1] <= 0xBF
            and (b[i + 2] & 0xC0) == 0x80):
        return "\ufffd", i + 3
    return "\ufffd", e.end


codecs.register_error("lseq-java-replace", _java_replace)


def dead_letter(error, record, source):
    """The dead-letter object: the reason, the record's first 4 KiB (cut on a character
    boundary) and where it came from."""
    keep = min(len(record), RAW_CUT_BYTES)
    if keep < len(record):
        while keep > 0 and (record[keep] & 0xC0) == 0x80:
            keep -= 1
    return {"error": error, "raw": record[:keep].decode("utf-8", "lseq-java-replace"),
            "source": source}


def read_lines(f):
    """Yields (line number from 1, bytes) of a binary stream: a final line without a newline
    counts, a trailing CR is dropped (as the engine's JsonLinesReader)."""
    n = 0
    for line in f:
        n += 1
        if line.endswith(b"\n"):
            line = line[:-1]
        if line.endswith(b"\r") and len(line) <= MAX_RECORD_BYTES:
            line = line[:-1]
        yield n, line


def format_float(v):
    """A float32 value as its shortest decimal (what the engine's JSON writer prints)."""
    return float(str(np.float32(v)))


@torch.no_grad()
def score_streams(model, streams, max_events=1 << 16):
    """Scores whole per-key streams: {key: list of tokens or feature lists} -> {key: numpy
    array of scores [T] (or probabilities [T, K])}. Keys of similar length are padded into
    batches of at most ``max_events`` events; each key is one row of ``model.scores``."""
    out = {}
    keys = sorted(streams, key=lambda k: len(streams[k]))
    tokens = model.tokens
    i = 0
    while i < len(keys):
        T = len(streams[keys[i]])
        j = i + 1
        while j < len(keys) and len(streams[keys[j]]) * (j - i + 1) <= max(max_events, T):
            j += 1
        batch = keys[i:j]
        T = len(streams[batch[-1]])
        if tokens:
            x = torch.zeros(len(batch), T, dtype=torch.long)
        else:
            x = torch.zeros(len(batch), T, model.config["input"]["dim"])
        for r, k in enumerate(batch):
            x[r, :len(streams[k])] = torch.tensor(streams[k], dtype=x.dtype)
        s = model.scores(x).double().numpy()
        for r, k in enumerate(batch):
            out[k] = s[r, :len(streams[k])]
        i = j
    return out


def score_file(model, inp, out, dead, source_name):
    """Scores a JSON Lines stream of events (binary file objects ``inp``; text ``out`` and
    ``dead``), one state per key, scores written in input order as the engine writes them.
    Keys are scored as whole streams (all events are read first). Returns (scored,
    rejected, keys)."""
    cfg = model.config
    order, streams, rejected = [], {}, 0
    for lineno, rec in read_lines(inp):
        try:
            ev = parse_event(rec, cfg["input"])
        except EventError as e:
            dead.write(json.dumps(dead_letter(str(e), rec, "%s:%d" % (source_name, lineno)),
                                  ensure_ascii=False, separators=(",", ":")) + "\n")
            rejected += 1
            continue
        st = streams.setdefault(ev["key"], [])
        order.append((ev["key"], len(st), ev.get("ts"), ev.get("id")))
        st.append(ev["token"] if "token" in ev else ev["features"])
    scores = score_streams(model, streams)
    probs = cfg["head"]["type"] == "classes"
    name = cfg["name"]
    for key, seq, ts, id_ in order:
        rec = {"key": key, "seq": seq}
        if ts is not None:
            rec["ts"] = ts
        if id_ is not None:
            rec["id"] = id_
        rec["model"] = name
        v = scores[key][seq]
        if probs:
            rec["probs"] = [format_float(p) for p in v]
        else:
            rec["score"] = format_float(v)
        out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    return len(order), rejected, len(streams)
