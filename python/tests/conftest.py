import copy
import json
import os

import pytest
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(REPO, "recurrent-core", "src", "test", "resources", "golden")
EXAMPLES = os.path.join(REPO, "examples")

torch.set_num_threads(min(2, os.cpu_count() or 1))


def ratio(got, want):
    """Worst |a - b| / (1e-4 + 1e-4 |b|): the format's tolerance, b the reference."""
    got = torch.as_tensor(got, dtype=torch.float64)
    want = torch.as_tensor(want, dtype=torch.float64)
    return float(((got - want).abs() / (1e-4 + 1e-4 * want.abs())).max())


def base_config(**kw):
    c = {"format": "lseq-model", "version": 1, "name": "t", "d_model": 16,
         "input": {"type": "tokens", "vocab_size": 20, "bos_token": 1},
         "norm": "layer", "gelu": "erf",
         "blocks": [{"mixer": {"type": "lru", "d_state": 8}, "post": "glu"}],
         "head": {"type": "next_token", "tie_embeddings": False}}
    c.update(kw)
    return copy.deepcopy(c)


# One model with every mixer, post, mlp, sinks and biases, for round trips and shapes.
MIXED = base_config(d_model=16, gelu="tanh", blocks=[
    {"mixer": {"type": "lru", "d_state": 8}},
    {"mixer": {"type": "gru", "d_state": 12}, "mlp": {"hidden": 24}},
    {"mixer": {"type": "lstm", "d_state": 16}, "post": "none"},
    {"mixer": {"type": "attention", "heads": 2, "window": 7, "logn_base": 4, "sinks": 2,
               "bias": True}, "post": "none", "mlp": {"hidden": 32}},
    {"mixer": {"type": "gau", "expansion": 2, "key_size": 8, "window": 5, "sinks": 1}},
])


@pytest.fixture
def golden_cases():
    with open(os.path.join(GOLDEN, "index.json")) as f:
        return [c["case"] for c in json.load(f)]


def golden_names():
    p = os.path.join(GOLDEN, "index.json")
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return [c["case"] for c in json.load(f)]
