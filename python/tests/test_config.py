"""Bad configs: the engine's checks and messages (field named by JSON path)."""
import json
import subprocess
import sys

import pytest

import lseq
from conftest import base_config


def mutate(path, value):
    c = base_config()
    node = c
    for p in path[:-1]:
        node = node[p]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return c


CASES = [
    (("blocks", 0, "mixer", "d_state"), "x",
     'field blocks[0].mixer.d_state: must be an integer, got "x"'),
    (("blocks", 0, "mixer", "d_state"), 2.5, "field blocks[0].mixer.d_state: must be an integer, got 2.5"),
    (("blocks", 0, "mixer", "d_state"), 0, "field blocks[0].mixer.d_state: must be positive, got 0"),
    (("blocks", 0, "mixer", "type"), "mamba",
     'field blocks[0].mixer.type: unknown mixer type "mamba" (lru, gru, lstm, attention or gau)'),
    (("head", "type"), "pooled",
     'field head.type: unknown head type "pooled" (next_token, classes or regression)'),
    (("format",), "onnx", 'field format: must be "lseq-model", got "onnx"'),
    (("version",), 2, "field version: version 2 is not supported (this engine reads version 1)"),
    (("d_model",), KeyError, "field d_model: is required"),
    (("input", "bos_token"), 20, "field input.bos_token: token 20 is out of range [0, 20)"),
    (("norm",), "batch", 'field norm: must be "layer" or "rms", got "batch"'),
    (("gelu",), "relu", 'field gelu: must be "erf" or "tanh", got "relu"'),
    (("blocks",), [], "field blocks: must be a non-empty array"),
    (("blocks", 0, "post"), "none",
     "field blocks[0].post: \"none\" needs the mixer's output (16) to equal d_model (16)"),
    (("head", "tie_embeddings"), "yes", 'field head.tie_embeddings: must be true or false, got "yes"'),
]


@pytest.mark.parametrize("path,value,msg", CASES)
def test_bad_config(path, value, msg):
    c = mutate(path, value)
    if msg.startswith("field blocks[0].post"):
        c["blocks"][0]["mixer"] = {"type": "gru", "d_state": 8}
        msg = msg.replace("(16) to", "(8) to")
    with pytest.raises(lseq.ModelFormatError) as e:
        lseq.LseqModel(c)
    assert str(e.value) == "config.json: " + msg


def test_attention_and_gau_rules():
    att = lambda **m: base_config(blocks=[{"mixer": dict({"type": "attention"}, **m)}])
    for m, msg in [
        (dict(heads=3, window=8), "field blocks[0].mixer.heads: 3 heads do not divide d_model 16"),
        (dict(heads=16, window=8), "field blocks[0].mixer.heads: head dim 1 must be even for RoPE"),
        (dict(heads=2), "field blocks[0].mixer.window: is required"),
        (dict(heads=2, window=8, logn_base=1),
         "field blocks[0].mixer.logn_base: must be a number greater than 1 (ln(T0) divides), got 1.0"),
        (dict(heads=2, window=8, sinks=-1), "field blocks[0].mixer.sinks: must be 0 or more, got -1"),
    ]:
        with pytest.raises(lseq.ModelFormatError) as e:
            lseq.LseqModel(att(**m))
        assert str(e.value) == "config.json: " + msg
    gau = base_config(blocks=[{"mixer": {"type": "gau", "window": 4, "key_size": 7}}])
    with pytest.raises(lseq.ModelFormatError, match=r"blocks\[0\]\.mixer\.key_size: must be even"):
        lseq.LseqModel(gau)


def test_defaults_and_leniency():
    c = base_config(extra_metadata={"trained_by": "me"})
    c["blocks"][0]["mixer"]["d_state"] = 8.0                 # integral float accepted
    c["blocks"].append({"mixer": {"type": "gau", "window": 4}})
    c["blocks"].append({"mixer": {"type": "attention", "heads": 2, "window": 4}})
    m = lseq.LseqModel(c)
    cfg = m.config
    assert cfg["norm_eps"] == 1e-5 and cfg["blocks"][0]["post"] == "glu"
    assert cfg["blocks"][1]["mixer"]["logn_base"] == 512.0
    assert cfg["blocks"][1]["mixer"]["key_size"] == 128
    assert "logn_base" not in cfg["blocks"][2]["mixer"]
    assert cfg["extra_metadata"] == {"trained_by": "me"}


def test_regression_dim_and_next_token_input():
    c = base_config(input={"type": "features", "dim": 3}, head={"type": "regression", "dim": 4})
    with pytest.raises(lseq.ModelFormatError, match="field head.dim: regression predicts"):
        lseq.LseqModel(c)
    c = base_config(input={"type": "features", "dim": 3})
    with pytest.raises(lseq.ModelFormatError, match='field head.type: next_token requires "tokens"'):
        lseq.LseqModel(c)


def test_json_text_errors():
    with pytest.raises(lseq.ModelFormatError, match="config.json: not valid JSON"):
        lseq.parse_config('{"format": NaN}')
    with pytest.raises(lseq.ModelFormatError, match="duplicate field"):
        lseq.parse_config('{"format": "lseq-model", "format": "x"}')


def test_cli_names_the_json_path(tmp_path):
    c = mutate(("blocks", 0, "mixer", "d_state"), "x")
    (tmp_path / "config.json").write_text(json.dumps(c))
    r = subprocess.run([sys.executable, "-m", "lseq", "score", "--model", str(tmp_path),
                        "--input", "-", "--output", "-"], input="", capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert r.stderr.strip() == ("lseq score: bad model: %s: field blocks[0].mixer.d_state: "
                                'must be an integer, got "x"' % (tmp_path / "config.json"))
