"""Converters: torch GRU/LSTM stacks, and minimal-LRU parameter trees (.npz)."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import lseq
from lseq.convert import ConversionError, from_minimal_lru, from_torch_rnn
from conftest import ratio


@pytest.mark.parametrize("kind", [nn.GRU, nn.LSTM])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("norms", [False, True])
def test_torch_rnn_stack_tokens(tmp_path, kind, batch_first, norms):
    torch.manual_seed(7)
    V, E, N = 40, 12, 20
    emb = nn.Embedding(V, E)
    rnn = kind(E, N, num_layers=2, batch_first=batch_first)
    head = nn.Linear(N, V)
    inorm = nn.LayerNorm(E) if norms else None
    fnorm = nn.LayerNorm(N, eps=1e-6) if norms else None
    if norms:
        with torch.no_grad():
            for p in list(inorm.parameters()) + list(fnorm.parameters()):
                p.normal_(0.5, 0.3)
    x = torch.randint(0, V, (3, 400))
    with torch.no_grad():
        e = emb(x)
        if inorm is not None:
            e = inorm(e)
        h = rnn(e if batch_first else e.transpose(0, 1))[0]
        h = h if batch_first else h.transpose(0, 1)
        want = head(fnorm(h) if fnorm is not None else h)
    m = from_torch_rnn(rnn, head, embedding=emb, input_norm=inorm, final_norm=fnorm)
    with torch.no_grad():
        got = m(x)
        assert ratio(got, want) < 0.1
        # scores: t >= 1 are the torch model's surprisals; after save and load as well
        lseq.save(m, str(tmp_path / "m"))
        s = lseq.load(str(tmp_path / "m")).scores(x)
        tw = -torch.log_softmax(want, -1)[:, :-1].gather(-1, x[:, 1:, None])[..., 0]
        assert ratio(s[:, 1:], tw) < 0.1


def test_torch_rnn_list_features_classes():
    torch.manual_seed(8)
    F_, N1, N2, K = 5, 16, 10, 4
    r1, r2 = nn.LSTM(F_, N1, batch_first=True), nn.GRU(N1, N2, batch_first=True)
    head = nn.Linear(N2, K)
    f = torch.randn(2, 300, F_)
    with torch.no_grad():
        want = torch.softmax(head(r2(r1(f)[0])[0]), -1)
        m = from_torch_rnn([r1, r2], head, input_dim=F_, head_type="classes")
        assert ratio(m.scores(f), want) < 0.1
    assert [b["mixer"]["type"] for b in m.config["blocks"]] == ["lstm", "gru"]


def test_torch_rnn_refusals():
    emb, head = nn.Embedding(10, 4), nn.Linear(6, 10)
    with pytest.raises(ConversionError, match="bidirectional"):
        from_torch_rnn(nn.GRU(4, 6, bidirectional=True), head, embedding=emb)
    with pytest.raises(ConversionError, match="BatchNorm has no equivalent"):
        from_torch_rnn(nn.GRU(4, 6), head, embedding=emb, final_norm=nn.BatchNorm1d(6))
    with pytest.raises(ConversionError, match="not an nn.Linear"):
        from_torch_rnn(nn.GRU(4, 6), nn.Sequential(nn.Linear(6, 10)), embedding=emb)
    with pytest.raises(ConversionError, match="proj_size"):
        from_torch_rnn(nn.LSTM(4, 6, proj_size=3), head, embedding=emb)
    with pytest.raises(ConversionError, match="not an nn.GRU or nn.LSTM"):
        from_torch_rnn(nn.RNN(4, 6), head, embedding=emb)


# ---- minimal-LRU -------------------------------------------------------------------

def make_tree(F_, H, N, L, K, rng, final_norm=True):
    t = {"params/encoder/encoder/kernel": rng.randn(F_, H) / math.sqrt(F_),
         "params/encoder/encoder/bias": rng.randn(H) * 0.1,
         "params/decoder/kernel": rng.randn(H, K) / math.sqrt(H),
         "params/decoder/bias": rng.randn(K) * 0.1}
    for i in range(L):
        p = "params/encoder/layers_%d/" % i
        r = rng.uniform(0.9, 0.999, N)
        t[p + "seq/nu_log"] = np.log(-np.log(r))
        t[p + "seq/theta_log"] = np.log(rng.uniform(0.01, math.pi, N))
        t[p + "seq/gamma_log"] = np.log(np.sqrt(1 - r ** 2))
        for n, s in (("B_re", (N, H)), ("B_im", (N, H)), ("C_re", (H, N)), ("C_im", (H, N))):
            t[p + "seq/" + n] = rng.randn(*s) / math.sqrt(s[1])
        t[p + "seq/D"] = rng.randn(H)
        t[p + "norm/scale"] = 1 + 0.1 * rng.randn(H)
        t[p + "norm/bias"] = 0.1 * rng.randn(H)
        for o in ("out1", "out2"):
            t[p + o + "/kernel"] = rng.randn(H, H) / math.sqrt(H)
            t[p + o + "/bias"] = 0.1 * rng.randn(H)
    if final_norm:
        t["params/encoder/final_norm/scale"] = 1 + 0.1 * rng.randn(H)
        t["params/encoder/final_norm/bias"] = 0.1 * rng.randn(H)
    return {k: v.astype(np.float32) for k, v in t.items()}


def minimal_lru_numpy(t, f, L, eps=1e-6):
    """minimal-LRU's forward as its code reads (float64, step loop), from the tree."""
    g = lambda k: t["params/" + k].astype(np.float64)
    ln = lambda x, s, b: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * s + b
    gelu = lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    x = f @ g("encoder/encoder/kernel") + g("encoder/encoder/bias")
    for i in range(L):
        p = "encoder/layers_%d/" % i
        u = ln(x, g(p + "norm/scale"), g(p + "norm/bias"))
        lam = np.exp(-np.exp(g(p + "seq/nu_log")) + 1j * np.exp(g(p + "seq/theta_log")))
        B = (g(p + "seq/B_re") + 1j * g(p + "seq/B_im")) * np.exp(g(p + "seq/gamma_log"))[:, None]
        C = g(p + "seq/C_re") + 1j * g(p + "seq/C_im")
        h = np.zeros(lam.shape, complex)
        ys = []
        for t_ in range(u.shape[0]):
            h = lam * h + B @ u[t_]
            ys.append((C @ h).real + g(p + "seq/D") * u[t_])
        y = gelu(np.stack(ys))
        o1 = y @ g(p + "out1/kernel") + g(p + "out1/bias")
        o2 = y @ g(p + "out2/kernel") + g(p + "out2/bias")
        x = x + o1 / (1 + np.exp(-o2))
    x = ln(x, g("encoder/final_norm/scale"), g("encoder/final_norm/bias"))
    return x @ g("decoder/kernel") + g("decoder/bias")


def test_minimal_lru_npz(tmp_path):
    rng = np.random.RandomState(0)
    t = make_tree(3, 16, 12, 2, 4, rng)
    np.savez(tmp_path / "lru.npz", **t)
    m = from_minimal_lru(str(tmp_path / "lru.npz"), head_type="classes")
    assert [b["mixer"]["type"] for b in m.config["blocks"]] == ["lru", "lru"]
    assert m.config["gelu"] == "tanh" and m.config["norm_eps"] == 1e-6
    f = rng.randn(500, 3).astype(np.float32)
    want = minimal_lru_numpy(t, f.astype(np.float64), 2)
    with torch.no_grad():
        got = m(torch.from_numpy(f)[None])[0]
    assert ratio(got, want) < 0.1


def test_minimal_lru_refusals(tmp_path):
    rng = np.random.RandomState(1)
    t = make_tree(3, 8, 4, 1, 2, rng)
    bn = dict(t)
    bn["batch_stats/encoder/layers_0/norm/mean"] = np.zeros(8, np.float32)
    with pytest.raises(ConversionError, match="BatchNorm"):
        from_minimal_lru(bn)
    with pytest.raises(ConversionError, match="no final norm"):
        from_minimal_lru(make_tree(3, 8, 4, 1, 2, rng, final_norm=False))
    bi = dict(t)
    bi["params/encoder/layers_0/seq_backward/nu_log"] = np.zeros(4, np.float32)
    with pytest.raises(ConversionError, match="bidirectional"):
        from_minimal_lru(bi)
    extra = dict(t)
    extra["params/encoder/layers_0/mlp/kernel"] = np.zeros((8, 8), np.float32)
    with pytest.raises(ConversionError, match="layers_0/mlp/kernel has no equivalent"):
        from_minimal_lru(extra)
    pooled = dict(t)
    pooled["params/pooling/kernel"] = np.zeros((8, 8), np.float32)
    with pytest.raises(ConversionError, match="pooled classifier"):
        from_minimal_lru(pooled)
    with pytest.raises(ConversionError, match="pooled classifier .pooling 'mean'"):
        from_minimal_lru(t, pooling="mean")


def test_minimal_lru_tokens_next_token():
    rng = np.random.RandomState(2)
    V, H = 11, 8
    t = make_tree(3, H, 6, 1, V, rng)
    del t["params/encoder/encoder/kernel"], t["params/encoder/encoder/bias"]
    t["params/encoder/encoder/embedding"] = rng.randn(V, H).astype(np.float32)
    m = from_minimal_lru(t, input_type="tokens", bos_token=0)
    assert m.config["input"] == {"type": "tokens", "vocab_size": V, "bos_token": 0}
    assert m.config["head"]["type"] == "next_token"
    x = torch.from_numpy(rng.randint(0, V, (1, 200)))
    # the same tree as features: one-hot features through the embedding as a Dense kernel
    tf = dict(t)
    tf["params/encoder/encoder/kernel"] = tf.pop("params/encoder/encoder/embedding")
    tf["params/encoder/encoder/bias"] = np.zeros(H, np.float32)
    want = minimal_lru_numpy(tf, np.eye(V)[x[0].numpy()], 1)
    with torch.no_grad():
        got = m(x)[0]
    assert ratio(got, want) < 0.1
