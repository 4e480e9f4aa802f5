"""Every golden case of the engine's tests, scored by the package within the format's
tolerance (the goldens are the independent float64 reference's scores)."""
import gzip
import io
import json
import os

import pytest

import lseq
from lseq.events import score_file
from conftest import GOLDEN, golden_names, ratio


@pytest.mark.parametrize("case", golden_names())
def test_golden_case(case):
    d = os.path.join(GOLDEN, case)
    model = lseq.load(d).eval()
    with gzip.open(os.path.join(d, "events.jsonl.gz"), "rb") as f:
        events = f.read()
    with gzip.open(os.path.join(d, "expected.jsonl.gz"), "rt") as f:
        expected = [json.loads(l) for l in f]
    out, dead = io.StringIO(), io.StringIO()
    n, bad, _ = score_file(model, io.BytesIO(events), out, dead, "events")
    assert bad == 0 and n == len(expected)
    got = [json.loads(l) for l in out.getvalue().splitlines()]
    worst = 0.0
    for g, e in zip(got, expected):
        assert (g["key"], g["seq"]) == (e["key"], e["seq"])
        if "probs" in e:
            worst = max(worst, ratio(g["probs"], e["probs"]))
        else:
            worst = max(worst, ratio(g["score"], e["score"]))
    print("%s: worst %.4f of the tolerance" % (case, worst))
    assert worst <= 1.0


def test_all_goldens_listed():
    assert len(golden_names()) >= 11
