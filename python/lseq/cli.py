"""``python -m lseq score|check|inspect``: score event files in Python, and check them
against the engine's ``bin/lseq score``."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from .config import ModelFormatError
from .events import score_file
from .io import load

TOL_ABS = TOL_REL = 1e-4


def _open_in(path):
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def _open_out(path, std):
    if path == "-":
        return std
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    return open(path, "w", encoding="utf-8")


def cmd_score(a):
    model = load(a.model).eval()
    src = "stdin" if a.input == "-" else a.input
    fin = _open_in(a.input)
    fout = _open_out(a.output, sys.stdout)
    fdead = _open_out(a.dead_letter or "-", sys.stderr)
    try:
        n, bad, keys = score_file(model, fin, fout, fdead, src)
    finally:
        for f in (fin, fout, fdead):
            if f not in (sys.stdin.buffer, sys.stdout, sys.stderr):
                f.close()
    if not a.quiet:
        print("lseq score: %d events scored, %d rejected, %d keys" % (n, bad, keys),
              file=sys.stderr)
    return 0


def find_lseq():
    """bin/lseq of the checkout: $LSEQ_BIN, else the first bin/lseq above the working
    directory or above this package's files."""
    if os.environ.get("LSEQ_BIN"):
        return os.environ["LSEQ_BIN"]
    for start in (os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
        d = start
        while True:
            c = os.path.join(d, "bin", "lseq")
            if os.path.isfile(c) and os.access(c, os.X_OK):
                return c
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    return None


def compare_scores(py_lines, engine_lines):
    """Compares two score files line by line (same keys and seqs expected). Returns
    (worst ratio |a - b| / (1e-4 + 1e-4 |b|) with b the engine's value, the worst record
    pair, number of lines). Raises ValueError when the files do not line up."""
    if len(py_lines) != len(engine_lines):
        raise ValueError("python wrote %d scores, the engine %d" % (len(py_lines),
                                                                     len(engine_lines)))
    worst, where = 0.0, None
    for lp, le in zip(py_lines, engine_lines):
        p, e = json.loads(lp), json.loads(le)
        if (p["key"], p["seq"]) != (e["key"], e["seq"]):
            raise ValueError("line order differs: python %s/%d, engine %s/%d"
                             % (p["key"], p["seq"], e["key"], e["seq"]))
        a = p["probs"] if "probs" in p else [p["score"]]
        b = e["probs"] if "probs" in e else [e["score"]]
        for x, y in zip(a, b):
            r = abs(x - y) / (TOL_ABS + TOL_REL * abs(y))
            if r > worst or where is None:
                worst, where = max(worst, r), (p, e)
    return worst, where, len(py_lines)


def cmd_check(a):
    lseq = a.lseq or find_lseq()
    if not lseq:
        raise RuntimeError("bin/lseq not found: run from the checkout, or set --lseq or LSEQ_BIN")
    model = load(a.model).eval()
    with tempfile.TemporaryDirectory(prefix="lseq-check-") as tmp:
        py_out, py_dead = os.path.join(tmp, "py.jsonl"), os.path.join(tmp, "py-dead.jsonl")
        en_out, en_dead = os.path.join(tmp, "engine.jsonl"), os.path.join(tmp, "engine-dead.jsonl")
        with open(a.input, "rb") as fin, open(py_out, "w") as fo, open(py_dead, "w") as fd:
            score_file(model, fin, fo, fd, a.input)
        r = subprocess.run([lseq, "score", "--model", a.model, "--input", a.input,
                            "--output", en_out, "--dead-letter", en_dead, "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError("%s score failed (exit %d): %s" % (lseq, r.returncode,
                                                                  r.stderr.strip()[-2000:]))
        with open(py_out) as f1, open(en_out) as f2:
            worst, where, n = compare_scores(f1.readlines(), f2.readlines())
        with open(py_dead) as f1, open(en_dead) as f2:
            dead_py = [json.loads(x) for x in f1]
            dead_en = [json.loads(x) for x in f2]
    src_py = [d["source"] for d in dead_py]
    src_en = [d["source"] for d in dead_en]
    print("scores: %d, compared with %s score" % (n, lseq))
    print("dead letters: python %d, engine %d%s" % (len(src_py), len(src_en),
          "" if src_py == src_en else " (DIFFERENT LINES)"))
    # the reasons must agree too, but for the wording of JSON syntax errors (two parsers)
    same = lambda a, b: a == b or (a.startswith("not valid JSON: ")
                                   and b.startswith("not valid JSON: "))
    diff = [(p, e) for p, e in zip(dead_py, dead_en) if not same(p["error"], e["error"])
            or p["raw"] != e["raw"]]
    for p, e in diff[:5]:
        print("dead letter %s: python %s, engine %s" % (p["source"], json.dumps(p["error"]),
                                                        json.dumps(e["error"])))
    if where:
        p, e = where
        val = lambda r: r.get("score", r.get("probs"))
        print("worst difference: %.4g of the tolerance 1e-4 + 1e-4|engine| "
              "(key %s seq %d: python %s, engine %s)" % (worst, p["key"], p["seq"], val(p),
                                                          val(e)))
    ok = worst <= 1.0 and src_py == src_en and not diff
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


def cmd_inspect(a):
    model = load(a.model)
    n = sum(p.numel() for p in model.parameters())
    print(json.dumps(model.config, indent=2))
    print("parameters: %d" % n)
    return 0


def main(argv=None):
    """Entry point of ``python -m lseq``; returns the exit status."""
    ap = argparse.ArgumentParser(prog="python -m lseq", description="Score event files with "
                                 "the lseq Python package, and check them against bin/lseq.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("score", help="score a JSON Lines event file (EVENTS.md) in Python")
    s.add_argument("--model", required=True, help="model directory")
    s.add_argument("--input", required=True, help="events, JSON Lines; - for stdin")
    s.add_argument("--output", required=True, help="scores, JSON Lines; - for stdout")
    s.add_argument("--dead-letter", help="rejected lines (default: stderr)")
    s.add_argument("--quiet", action="store_true", help="no summary on stderr")
    c = sub.add_parser("check", help="score in Python and with bin/lseq score; print the "
                                     "worst difference as a fraction of the tolerance")
    c.add_argument("--model", required=True)
    c.add_argument("--input", required=True)
    c.add_argument("--lseq", help="the engine's launcher (default: bin/lseq of the checkout)")
    i = sub.add_parser("inspect", help="validate a model and print its normalized config")
    i.add_argument("--model", required=True)
    a = ap.parse_args(argv)
    try:
        return {"score": cmd_score, "check": cmd_check, "inspect": cmd_inspect}[a.cmd](a)
    except ModelFormatError as e:
        print("lseq %s: bad model: %s" % (a.cmd, e), file=sys.stderr)
    except (OSError, RuntimeError, ValueError) as e:
        print("lseq %s: %s" % (a.cmd, e), file=sys.stderr)
    return 1
