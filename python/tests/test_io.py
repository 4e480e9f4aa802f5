"""save/load round trips and the loader's rejections of bad weights."""
import json
import os
import struct

import pytest
import torch

import lseq
from lseq.config import expected_shapes
from lseq.io import write_safetensors
from conftest import MIXED, base_config

DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16"])
def test_round_trip_is_exact(tmp_path, dtype):
    torch.manual_seed(1)
    m = lseq.LseqModel(MIXED)
    lseq.save(m, str(tmp_path / "a"), dtype=dtype)
    m2 = lseq.load(str(tmp_path / "a"))
    sd, sd2 = m.state_dict(), m2.state_dict()
    assert list(sd) == list(sd2)
    for k in sd:
        want = sd[k].to(DT[dtype]).float()            # rounded once to the dtype
        assert torch.equal(sd2[k], want), k
    assert m2.config == lseq.load(str(tmp_path / "a")).config
    # saving the loaded model again writes the same bytes
    lseq.save(m2, str(tmp_path / "b"), dtype=dtype)
    for f in ("model.safetensors", "config.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    x = torch.randint(0, 20, (2, 30))
    with torch.no_grad():
        m.load_state_dict({k: v.to(DT[dtype]).float() for k, v in sd.items()})
        assert torch.equal(m.scores(x), m2.scores(x))


def test_state_dict_keys_are_the_format_names():
    for cfg in (MIXED, base_config(head={"type": "next_token", "tie_embeddings": True}),
                base_config(input={"type": "features", "dim": 3}, norm="rms",
                            head={"type": "regression", "dim": 3})):
        m = lseq.LseqModel(cfg)
        shapes = expected_shapes(m.config)
        assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == \
            {k: tuple(v) for k, v in shapes.items()}


def test_bias_presence_is_read_from_the_file(tmp_path):
    cfg = base_config(blocks=[{"mixer": {"type": "attention", "heads": 2, "window": 4}}])
    m = lseq.LseqModel(cfg)
    assert "blocks.0.mixer.q.bias" not in m.state_dict()
    sd = dict(m.state_dict())
    for n in "qkvo":
        sd["blocks.0.mixer.%s.bias" % n] = torch.ones(16)
    d = _write(tmp_path, m.config, sd)
    m2 = lseq.load(d)
    assert torch.equal(m2.state_dict()["blocks.0.mixer.o.bias"], torch.ones(16))


def _write(tmp_path, cfg, sd, dtype="F32"):
    d = tmp_path / "m"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(json.dumps(cfg))
    write_safetensors(str(d / "model.safetensors"), sd, dtype)
    return str(d)


def _bad(tmp_path, mutate):
    m = lseq.LseqModel(base_config())
    sd = dict(m.state_dict())
    mutate(sd)
    return _write(tmp_path, m.config, sd)


def _raw(tmp_path, header, data=b""):
    d = tmp_path / "m"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(json.dumps(base_config()))
    h = json.dumps(header).encode()
    (d / "model.safetensors").write_bytes(struct.pack("<Q", len(h)) + h + data)
    return str(d)


@pytest.mark.parametrize("mutate,msg", [
    (lambda sd: sd.pop("blocks.0.mixer.B_re"),
     "missing tensor blocks.0.mixer.B_re (expected shape [8, 16])"),
    (lambda sd: sd.__setitem__("blocks.0.mixer.D", torch.zeros(15)),
     "tensor blocks.0.mixer.D has shape [15], expected [16]"),
    (lambda sd: sd.__setitem__("extra.weight", torch.zeros(2, 2)),
     "unexpected tensor extra.weight [2, 2]: the config does not use it"),
    (lambda sd: sd["head.weight"].__setitem__((3, 4), float("nan")),
     "tensor head.weight holds NaN at flat index 52; weights must be finite"),
    (lambda sd: sd["blocks.0.mixer.gamma_log"].__setitem__(2, 100.0),
     "tensor blocks.0.mixer.gamma_log[2] = 100.0 overflows exp()"),
])
def test_bad_weights(tmp_path, mutate, msg):
    d = _bad(tmp_path, mutate)
    with pytest.raises(lseq.ModelFormatError) as e:
        lseq.load(d)
    assert str(e.value) == os.path.join(d, "model.safetensors") + ": " + msg


def test_attention_biases_all_or_none(tmp_path):
    cfg = base_config(blocks=[{"mixer": {"type": "attention", "heads": 2, "window": 4}}])
    m = lseq.LseqModel(cfg)
    sd = dict(m.state_dict())
    sd["blocks.0.mixer.q.bias"] = torch.zeros(16)
    d = _write(tmp_path, m.config, sd)
    with pytest.raises(lseq.ModelFormatError, match=r"blocks\.0\.mixer\.\{q,k,v,o\}\.bias: "
                       "attention biases must be all four or none, found 1"):
        lseq.load(d)


@pytest.mark.parametrize("header,data,msg", [
    ({"a": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8,
     "tensor a: dtype I64 is not supported (F32, F16 or BF16)"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12,
     "tensor b bytes [4, 12) overlap tensor a bytes [0, 8)"),
    ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8,
     "tensor a: data_offsets [0, 16] are out of range of the 8-byte data section"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8,
     "tensor a: data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, b"",
     "tensor a: shape [-1] must hold non-negative integers"),
])
def test_bad_safetensors_layout(tmp_path, header, data, msg):
    d = _raw(tmp_path, header, data)
    with pytest.raises(lseq.ModelFormatError) as e:
        lseq.load(d)
    assert str(e.value) == os.path.join(d, "model.safetensors") + ": " + msg


def test_header_too_large_and_truncated(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(base_config()))
    (d / "model.safetensors").write_bytes(struct.pack("<Q", 100_000_001) + b"{}")
    with pytest.raises(lseq.ModelFormatError, match="header length 100000001 is outside"):
        lseq.load(str(d))
    (d / "model.safetensors").write_bytes(b"abc")
    with pytest.raises(lseq.ModelFormatError, match="file is 3 bytes, too short"):
        lseq.load(str(d))
    (d / "model.safetensors").write_bytes(struct.pack("<Q", 4) + b"{]}x")
    with pytest.raises(lseq.ModelFormatError, match="header is not valid JSON"):
        lseq.load(str(d))


def test_missing_files(tmp_path):
    with pytest.raises(lseq.ModelFormatError, match="no such model directory"):
        lseq.load(str(tmp_path / "nope"))
    (tmp_path / "m").mkdir()
    with pytest.raises(lseq.ModelFormatError, match="config.json: no such file"):
        lseq.load(str(tmp_path / "m"))


def test_golden_weights_read_in_their_dtype():
    from conftest import GOLDEN
    from lseq.io import parse_safetensors
    for case, dt in (("mixed_f16", "F16"), ("mixed_bf16_regression", "BF16")):
        with open(os.path.join(GOLDEN, case, "model.safetensors"), "rb") as f:
            _, dtypes = parse_safetensors(f.read())
        assert set(dtypes.values()) == {dt}
