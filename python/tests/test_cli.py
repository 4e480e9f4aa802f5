"""python -m lseq score / check, and event validation as the engine does it."""
import functools
import json
import os
import subprocess
import sys

import pytest

import lseq
from lseq.cli import find_lseq
from lseq.events import EventError, parse_event
from conftest import EXAMPLES, REPO, ratio

TOK = {"type": "tokens", "vocab_size": 512}
FEAT = {"type": "features", "dim": 2}


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "lseq", *args], capture_output=True, text=True,
                          **kw)


def test_score_sample_matches_reference_expected(tmp_path):
    out = tmp_path / "s.jsonl"
    r = run("score", "--model", os.path.join(EXAMPLES, "models", "reference-lru"), "--input",
            os.path.join(EXAMPLES, "events", "sample.jsonl"), "--output", str(out))
    assert r.returncode == 0, r.stderr
    got = [json.loads(l) for l in out.read_text().splitlines()]
    with open(os.path.join(EXAMPLES, "events", "sample-expected.jsonl")) as f:
        want = [json.loads(l) for l in f]
    assert len(got) == len(want) == 5474
    for g, w in zip(got, want):
        assert {k: g[k] for k in g if k != "score"} == {k: w[k] for k in w if k != "score"}
    assert ratio([g["score"] for g in got], [w["score"] for w in want]) < 0.1


def test_score_bad_events_dead_letters(tmp_path):
    out, dead = tmp_path / "s.jsonl", tmp_path / "d.jsonl"
    bad = os.path.join(EXAMPLES, "events", "bad.jsonl")
    r = run("score", "--model", os.path.join(EXAMPLES, "models", "reference-lru"), "--input",
            bad, "--output", str(out), "--dead-letter", str(dead))
    assert r.returncode == 0, r.stderr
    assert len(out.read_text().splitlines()) == 5
    d = [json.loads(l) for l in dead.read_text().splitlines()]
    assert [x["source"] for x in d] == ["%s:%d" % (bad, n) for n in (2, 3, 4, 6, 7, 8, 9, 11, 13, 14)]
    errors = [x["error"] for x in d]
    assert errors[1:7] == ["missing key", "token 9000 out of range [0, 512)",
                           "model takes tokens, event has features",
                           'token must be an integer, got a string "17"',
                           "token must be an integer, got NaN", "empty record"]
    assert errors[0].startswith("not valid JSON") and errors[7].startswith("not valid JSON")
    assert errors[8:] == ["key is 0 UTF-8 bytes, must be 1..256", "token -1 out of range [0, 512)"]
    assert all(set(x) == {"error", "raw", "source"} for x in d)


@pytest.mark.parametrize("rec,inp,msg", [
    ('{"key":"a","token":1,"features":[1,2]}', TOK, "event has both token and features, needs exactly one"),
    ('{"key":"a","ts":1.5,"token":1}', TOK, "ts must be an integer (epoch milliseconds), got a fractional number"),
    ('{"key":"a","id":3,"token":1}', TOK, "id must be a string, got an integer"),
    ('{"key":"a","token":17.0}', TOK, "token must be an integer, got a fractional number"),
    ('{"key":"a","token":99999999999999999999999}', TOK, "token (huge) out of range [0, 512)"),
    ('{"key":"a","features":[1]}', FEAT, "expected 2 features, got 1"),
    ('{"key":"a","features":[1,NaN]}', FEAT, "features[1] is NaN; features must be finite"),
    ('{"key":"a","features":[1,1e999]}', FEAT, "features[1] is infinite; features must be finite"),
    ('{"key":"a","features":[1,1e39]}', FEAT, "features[1] is 1.0E39, beyond float32 range; features must be finite"),
    ('{"key":"a","features":[1,"2"]}', FEAT, "features[1] must be a number, got a string"),
    ('{"key":"a","token":3}', FEAT, "model takes features, event has a token"),
    ('[1,2]', TOK, "event must be a JSON object, got an array"),
    ('{"key":"a","token":1} {}', TOK, "not valid JSON: trailing content after the event object"),
    ('{"key":"' + "x" * 257 + '","token":1}', TOK, "key is 257 UTF-8 bytes, must be 1..256"),
    ('{"key":5,"token":1}', TOK, "key must be a string, got an integer"),
])
def test_event_rejections(rec, inp, msg):
    with pytest.raises(EventError) as e:
        parse_event(rec, inp)
    assert str(e.value) == msg


def test_event_accepts_unknown_fields_and_nulls():
    ev = parse_event('{"key":"a","ts":null,"id":null,"token":3,"extra":{"x":[1]}}', TOK)
    assert ev == {"key": "a", "token": 3}
    big = '{"key":"a","token":1,"pad":"' + "x" * (1 << 20) + '"}'
    with pytest.raises(EventError, match="over the 1 MiB"):
        parse_event(big, TOK)


@functools.lru_cache(maxsize=None)
def _engine_built():
    lseq_bin = find_lseq()
    if not lseq_bin:
        return None
    r = subprocess.run([lseq_bin, "--help"], capture_output=True, text=True)
    return lseq_bin if r.returncode == 0 else None


def _mixed_f16(d):
    from conftest import MIXED
    import torch
    torch.manual_seed(5)
    lseq.save(lseq.LseqModel(MIXED), d, dtype="F16")


def _converted_lstm(d):
    import torch
    import torch.nn as nn
    from lseq.convert import from_torch_rnn
    torch.manual_seed(6)
    m = from_torch_rnn(nn.LSTM(8, 12, num_layers=2), nn.Linear(12, 20),
                       embedding=nn.Embedding(20, 8), final_norm=nn.LayerNorm(12), bos_token=1)
    lseq.save(m, d)


@pytest.mark.parametrize("make", [_mixed_f16, _converted_lstm])
def test_check_against_the_engine(tmp_path, make):
    lseq_bin = _engine_built()
    if not lseq_bin:
        pytest.skip("bin/lseq is not built (mvn -q package -DskipTests): check needs the engine")
    import torch
    make(str(tmp_path / "m"))
    lines = []
    g = torch.Generator().manual_seed(1)
    for i in range(600):
        k = "k%d" % (i % 3)
        lines.append(json.dumps({"key": k, "token": int(torch.randint(0, 20, (1,), generator=g))}))
    lines[10] = '{"key": "k1", "token": 20}'
    lines[20] = "not json"
    (tmp_path / "ev.jsonl").write_text("\n".join(lines) + "\n")
    r = run("check", "--model", str(tmp_path / "m"), "--input", str(tmp_path / "ev.jsonl"),
            "--lseq", lseq_bin, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "worst difference:" in r.stdout and "dead letters: python 2, engine 2" in r.stdout
    assert r.stdout.strip().endswith("OK")


BAD_LINES = [
    b'{"key":"a","token":1,"x":1,"x":2}', b'{"key":"a","key":5,"token":1}',
    b'{"key":"\\ud800x","token":1}', b'{"key":"a\xc0\xaf","token":1}',
    b'{"key":"a","token":1,"id":"\\ud83d\\ude00\\udc00"}', b'{"key":"a\xed\xa0\x80","token":1}',
    b'{"key":"a","features":[{"a":1}]}', b'{"key":"a","features":{"a":1}}',
    b'{"key":"a","token":1,"features":[1]}', b'{"key":"a","ts":1.5,"token":1}',
    b'{"key":"a","id":3,"token":1}', b'{"key":"a","token":17.0}',
    b'{"key":"a","token":99999999999999999999999}', b'{"key":"a","token":-3}', b'[1,2]', b'"s"',
    b'17', b'null', b'{"key":"a","token":1} {}', b'{"key":"' + b"x" * 257 + b'","token":1}',
    b'{"key":5,"token":1}', b'', b'   ', b'{"token":1}', b'{"key":"a"}', b'{"key":"a","token":"17"}',
    b'{"key":"a","token":NaN}', b'{"key":"a","token":true}', b'{"key":"a","token":null}',
    b'{"key":"a","ts":"x","token":1}', b'{"key":"a","ts":null,"id":null,"token":2,"e":{"n":[1]}}',
    b'{"key":"\xe2\x82\xac","token":3}', b'{"key":"a","token":1,"id":"' + b"y" * 5000 + b'\xe2\x82\xac"',
    b'{"key":"a","token":1,"token":2}', b'{"key":"\xf0\x9f\x98\x80","token":4}',
    b'{"key":"a","token":4}\r', b'{"key":"a","ts":9223372036854775808,"token":1}',
    b'{"key":"a","features":[1,NaN]}', b'{"key":"a","features":[1,1e39]}', b'{"key":"a","features":[1,1e999]}',
    b'{"key":"a","features":[1,"2"]}', b'{"key":"a","features":[1,2,3,4,5,6,7]}',
    b'{"key":"a","features":[1,2,3,4,5,6]}', b'{"key":"a","features":[1,2,3,4,5,true]}',
]


@pytest.mark.parametrize("model", [os.path.join(EXAMPLES, "models", "reference-lru"),
                                   os.path.join(REPO, "recurrent-core", "src", "test",
                                                "resources", "golden", "lstm_regression")])
def test_dead_letters_equal_the_engines(tmp_path, model):
    """Differential: every rejection (reason and raw text) equals bin/lseq score's, but for
    the wording of JSON syntax errors."""
    lseq_bin = _engine_built()
    if not lseq_bin:
        pytest.skip("bin/lseq is not built (mvn -q package -DskipTests): check needs the engine")
    good = (lambda i: b'{"key":"k%d","token":%d}' % (i % 3, i % 20)) if "lru" in model else \
        (lambda i: b'{"key":"k%d","features":[%d,1,2,3,4,5]}' % (i % 3, i % 7))
    lines = []
    for i, b in enumerate(BAD_LINES):
        lines += [good(i), b]
    (tmp_path / "ev.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    r = run("check", "--model", model, "--input", str(tmp_path / "ev.jsonl"), "--lseq", lseq_bin,
            cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dead letter " not in r.stdout and r.stdout.strip().endswith("OK")
