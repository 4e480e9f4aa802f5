#!/usr/bin/python3
"""Self-checks of the reference (independent formulas, batch vs stepping, file I/O).

    /usr/bin/python3 tools/reference/test_ref.py [-v]
"""

import cmath
import gzip
import json
import math
import os
import struct
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lseq_ref as R          # noqa: E402
import randmodel as RM        # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(HERE)),
                      "recurrent-core", "src", "test", "resources", "golden")
DT = torch.float64


def within(a, b, tol):
    return abs(a - b) <= tol + tol * abs(b)


def read_lines(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt") as f:
        return f.read().splitlines()


def flat(rec):
    return rec["probs"] if "probs" in rec else [rec["score"]]


def cfg(H, inp, blocks, head, norm="layer", **kw):
    c = {"format": "lseq-model", "version": 1, "name": "t", "d_model": H, "input": inp,
         "norm": norm, "blocks": blocks, "head": head}
    c.update(kw)
    return c


TOK = {"type": "tokens", "vocab_size": 20}
TOK_BOS = {"type": "tokens", "vocab_size": 20, "bos_token": 3}
FEAT = {"type": "features", "dim": 3}
ALL_MIXERS = [
    {"mixer": {"type": "lru", "d_state": 10}, "post": "glu"},
    {"mixer": {"type": "gru", "d_state": 12}, "post": "glu", "mlp": {"hidden": 16}},
    {"mixer": {"type": "attention", "heads": 2, "window": 5, "logn_base": 3}, "post": "none"},
    {"mixer": {"type": "lstm", "d_state": 8}, "post": "none"},
    {"mixer": {"type": "gau", "expansion": 2, "key_size": 4, "window": 6, "rope_theta": 50.0},
     "post": "glu", "mlp": {"hidden": 12}},
]


def random_inputs(model, n, seed):
    rng = np.random.RandomState(seed)
    if model.input_type == "tokens":
        return [int(x) for x in rng.randint(model.vocab_size, size=n)]
    return [[float(v) for v in rng.normal(0, 1, model.feature_dim)] for _ in range(n)]


class SafetensorsTest(unittest.TestCase):
    def test_roundtrip_all_dtypes(self):
        g = torch.Generator().manual_seed(1)
        ts = {"b.x": torch.randn(3, 5, generator=g, dtype=DT) * 3,
              "a.y": torch.randn(7, generator=g, dtype=DT),
              "c.z": torch.randn(2, 3, 4, generator=g, dtype=DT) * 1e-3}
        for dtype, tdt in (("F32", torch.float32), ("F16", torch.float16),
                           ("BF16", torch.bfloat16)):
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "m.safetensors")
                R.write_safetensors(p, ts, dtype)
                with open(p, "rb") as f:
                    blob = f.read()
                (n,) = struct.unpack("<Q", blob[:8])
                self.assertEqual(n % 8, 0)
                hdr = json.loads(blob[8:8 + n])
                self.assertEqual(hdr.pop("__metadata__"), {"format": "pt"})
                spans = sorted(v["data_offsets"] for v in hdr.values())
                self.assertEqual(spans[0][0], 0)
                for (b1, e1), (b2, e2) in zip(spans, spans[1:]):
                    self.assertEqual(e1, b2)            # contiguous, no overlap
                self.assertEqual(spans[-1][1], len(blob) - 8 - n)
                back = R.read_safetensors(p)
                self.assertEqual(set(back), set(ts))
                for k, v in ts.items():
                    self.assertEqual(back[k].dtype, DT)
                    self.assertEqual(hdr[k]["dtype"], dtype)
                    self.assertTrue(torch.equal(back[k], v.to(tdt).to(DT)), (dtype, k))

    def test_bf16_bits(self):
        # 1.0 = 0x3F80, -2.5 = 0xC020 in bfloat16
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            R.write_safetensors(p, {"w": torch.tensor([1.0, -2.5], dtype=DT)}, "BF16")
            with open(p, "rb") as f:
                blob = f.read()
            self.assertEqual(blob[-4:], bytes([0x80, 0x3F, 0x20, 0xC0]))

    def _raw(self, path, header, body):
        hj = json.dumps(header).encode()
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(hj)) + hj + body)

    def test_rejects(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            self._raw(p, {"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8)
            with self.assertRaisesRegex(R.ModelFormatError, "tensor w: unsupported dtype F64"):
                R.read_safetensors(p)
            self._raw(p, {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}},
                      b"\0" * 12)
            with self.assertRaisesRegex(R.ModelFormatError, "overlap"):
                R.read_safetensors(p)
            self._raw(p, {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                      b"\0" * 8)
            with self.assertRaisesRegex(R.ModelFormatError, "tensor a: .*out of range"):
                R.read_safetensors(p)
            with open(p, "wb") as f:
                f.write(struct.pack("<Q", 100 * 1000 * 1000 + 1) + b"{}")
            with self.assertRaisesRegex(R.ModelFormatError, "over 100 MB"):
                R.read_safetensors(p)

    def test_load_model_checks_tensors(self):
        c = cfg(8, TOK, [{"mixer": {"type": "lru", "d_state": 4}}],
                {"type": "next_token", "tie_embeddings": False})
        m = RM.build_random(c, 1)
        with tempfile.TemporaryDirectory() as d:
            sd = dict(m.state_dict())
            R.save_model(d, c, sd, "F32")
            R.load_model(d)
            R.save_model(d, c, {k: v for k, v in sd.items() if k != "blocks.0.mixer.D"}, "F32")
            with self.assertRaisesRegex(R.ModelFormatError, "missing tensor blocks.0.mixer.D"):
                R.load_model(d)
            R.save_model(d, c, dict(sd, **{"blocks.0.extra": torch.zeros(2)}), "F32")
            with self.assertRaisesRegex(R.ModelFormatError, "extra tensor blocks.0.extra"):
                R.load_model(d)
            R.save_model(d, c, dict(sd, **{"blocks.0.mixer.D": torch.zeros(7)}), "F32")
            with self.assertRaisesRegex(R.ModelFormatError, "blocks.0.mixer.D has shape"):
                R.load_model(d)
            bad = json.loads(json.dumps(c))
            bad["blocks"][0]["mixer"]["type"] = "mamba"
            with self.assertRaisesRegex(R.ModelFormatError, "unknown mixer type"):
                R.validate_config(bad)
            bad = json.loads(json.dumps(c))
            bad["d_model"] = "8"
            with self.assertRaisesRegex(R.ModelFormatError, "d_model"):
                R.validate_config(bad)


class FormulaTest(unittest.TestCase):
    """Each mixer against an independent, explicit formula."""

    def setUp(self):
        torch.manual_seed(0)
        self.H = 6
        self.a = torch.randn(40, self.H, dtype=DT)

    def test_norms_and_gelu(self):
        x = torch.randn(5, 9, dtype=DT) * 3 + 1
        n = R.Norm("layer", 9, 1e-5)
        with torch.no_grad():
            n.weight.copy_(torch.randn(9, dtype=DT))
            n.bias.copy_(torch.randn(9, dtype=DT))
        ref = F.layer_norm(x, (9,), n.weight, n.bias, 1e-5)
        self.assertTrue(torch.allclose(n(x), ref, rtol=0, atol=1e-12))
        r = R.Norm("rms", 9, 1e-6)
        for i in range(5):
            row = x[i].tolist()
            s = math.sqrt(sum(v * v for v in row) / 9 + 1e-6)
            for j in range(9):
                self.assertAlmostEqual(float(r(x)[i, j]), row[j] / s, places=12)
        for v in (-3.0, -0.5, 0.0, 0.7, 2.5):
            t = torch.tensor([v], dtype=DT)
            self.assertAlmostEqual(float(R.gelu(t, "erf")),
                                   0.5 * v * (1 + math.erf(v / math.sqrt(2))), places=14)
            tanh = 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
            self.assertAlmostEqual(float(R.gelu(t, "tanh")), tanh, places=14)

    def test_gru_equations(self):
        N = 5
        m = R.GRUMixer(self.H, N)
        Wi, Wh = m.weight_ih_l0.detach(), m.weight_hh_l0.detach()
        bi, bh = m.bias_ih_l0.detach(), m.bias_hh_l0.detach()
        h = torch.zeros(N, dtype=DT)
        st = m.init_state()
        seq = m.forward_seq(self.a).detach()
        for t in range(self.a.shape[0]):
            gi, gh = Wi @ self.a[t] + bi, Wh @ h + bh
            r = torch.sigmoid(gi[:N] + gh[:N])
            z = torch.sigmoid(gi[N:2 * N] + gh[N:2 * N])
            n = torch.tanh(gi[2 * N:] + r * gh[2 * N:])
            h = (1 - z) * n + z * h
            out, st = m.step(self.a[t], st, t)
            self.assertTrue(torch.allclose(out.detach(), h, rtol=0, atol=1e-13))
            self.assertTrue(torch.allclose(seq[t], h, rtol=0, atol=1e-13))

    def test_lstm_equations(self):
        N = 4
        m = R.LSTMMixer(self.H, N)
        Wi, Wh = m.weight_ih_l0.detach(), m.weight_hh_l0.detach()
        b = (m.bias_ih_l0 + m.bias_hh_l0).detach()
        h = torch.zeros(N, dtype=DT)
        c = torch.zeros(N, dtype=DT)
        st = m.init_state()
        seq = m.forward_seq(self.a).detach()
        for t in range(self.a.shape[0]):
            gates = Wi @ self.a[t] + Wh @ h + b
            i, f = torch.sigmoid(gates[:N]), torch.sigmoid(gates[N:2 * N])
            g, o = torch.tanh(gates[2 * N:3 * N]), torch.sigmoid(gates[3 * N:])
            c = f * c + i * g
            h = o * torch.tanh(c)
            out, st = m.step(self.a[t], st, t)
            self.assertTrue(torch.allclose(out.detach(), h, rtol=0, atol=1e-13))
            self.assertTrue(torch.allclose(seq[t], h, rtol=0, atol=1e-13))

    def test_lru_closed_form(self):
        c = cfg(self.H, FEAT, [{"mixer": {"type": "lru", "d_state": 7}}],
                {"type": "classes", "num_classes": 2})
        m = RM.build_random(c, 5, lru={0: (0.8, 0.99, math.pi)}).blocks[0].mixer
        p = {k: v.detach().numpy() for k, v in m.state_dict().items()}
        lam = [cmath.exp(complex(-math.exp(nu), math.exp(th)))
               for nu, th in zip(p["nu_log"], p["theta_log"])]
        gam = np.exp(p["gamma_log"])
        B = p["B_re"] + 1j * p["B_im"]
        C = p["C_re"] + 1j * p["C_im"]
        a = self.a.numpy()
        st = m.init_state()
        with torch.no_grad():
            seq = m.forward_seq(self.a)
            for t in range(a.shape[0]):
                # h_t = sum_k lambda^(t-k) * gamma * B a_k
                h = sum(np.array([l ** (t - k) for l in lam]) * gam * (B @ a[k])
                        for k in range(t + 1))
                want = (C @ h).real + p["D"] * a[t]
                out, st = m.step(self.a[t], st, t)
                np.testing.assert_allclose(out.numpy(), want, rtol=0, atol=1e-12)
                np.testing.assert_allclose(seq[t].numpy(), want, rtol=0, atol=1e-12)
        self.assertTrue(all(abs(l) < 1 for l in lam))

    def _naive_attention(self, mx, a, P=0):
        """Loops over heads, positions and coordinates with Python floats."""
        H, h, d, W = mx.H, mx.h, mx.d, mx.W
        sd = {k: v.detach().numpy() for k, v in mx.state_dict().items()}
        lin = lambda n, x: sd[n + ".weight"] @ x + (sd[n + ".bias"] if n + ".bias" in sd else 0)
        q = [lin("q", x) for x in a]
        k = [lin("k", x) for x in a]
        v = [lin("v", x) for x in a]

        def rot(u, pos):
            half = d // 2
            out = [0.0] * d
            for j in range(half):
                ang = pos * mx.theta ** (-2.0 * j / d)
                out[j] = u[j] * math.cos(ang) - u[j + half] * math.sin(ang)
                out[j + half] = u[j + half] * math.cos(ang) + u[j] * math.sin(ang)
            return out
        res = []
        for t in range(len(a)):
            vis = list(range(max(0, t - W + 1), t + 1))
            n = len(vis)
            scale = 1.0 if mx.logn is None else max(1.0, math.log(n) / math.log(mx.logn))
            cat = []
            for j in range(h):
                sl = slice(j * d, (j + 1) * d)
                qt = rot(q[t][sl], P + t)
                sc = [scale * sum(x * y for x, y in zip(qt, rot(k[s][sl], P + s))) / math.sqrt(d)
                      for s in vis]
                mxs = max(sc)
                e = [math.exp(x - mxs) for x in sc]
                z = sum(e)
                cat.extend(sum(e[i] / z * v[s][sl][c] for i, s in enumerate(vis))
                           for c in range(d))
            res.append(lin("o", np.array(cat)))
        return np.array(res)

    def test_attention_naive(self):
        for bias, logn in ((True, 4), (False, None)):
            torch.manual_seed(3)
            mx = R.Attention(8, 2, 5, 100.0, logn, bias)
            with torch.no_grad():
                mx.q.weight.mul_(3)
                mx.k.weight.mul_(3)
            a = torch.randn(14, 8, dtype=DT)
            want = self._naive_attention(mx, a.numpy())
            with torch.no_grad():
                np.testing.assert_allclose(mx.forward_seq(a).numpy(), want, atol=1e-12)
                st = mx.init_state()
                for t in range(14):
                    out, st = mx.step(a[t], st, t)
                    np.testing.assert_allclose(out.numpy(), want[t], atol=1e-12)

    def test_gau_naive(self):
        torch.manual_seed(4)
        H, E, S, W = 6, 12, 4, 5
        mx = R.GAU(H, 2, S, W, 30.0, 3)
        with torch.no_grad():
            for p in (mx.q_scale, mx.k_scale):
                p.copy_(1 + torch.randn(S, dtype=DT))
            for p in (mx.q_offset, mx.k_offset):
                p.copy_(torch.randn(S, dtype=DT))
        a = torch.randn(12, H, dtype=DT)
        sd = {k: v.detach().numpy() for k, v in mx.state_dict().items()}
        x = a.numpy() @ sd["i_dense.weight"].T + sd["i_dense.bias"]
        x = x / (1 + np.exp(-x))
        u, v, z = x[:, :E], x[:, E:2 * E], x[:, 2 * E:]
        q, k = z * sd["q_scale"] + sd["q_offset"], z * sd["k_scale"] + sd["k_offset"]

        def rot(w, pos):
            j = np.arange(S // 2)
            ang = pos * 30.0 ** (-2.0 * j / S)
            w1, w2 = w[:S // 2], w[S // 2:]
            return np.concatenate([w1 * np.cos(ang) - w2 * np.sin(ang),
                                   w2 * np.cos(ang) + w1 * np.sin(ang)])
        with torch.no_grad():
            seq = mx.forward_seq(a).numpy()
            st = mx.init_state()
            for t in range(12):
                vis = range(max(0, t - W + 1), t + 1)
                n = len(vis)
                sc = np.array([max(1, math.log(n) / math.log(3)) * rot(q[t], t) @ rot(k[s], s)
                               / math.sqrt(S) for s in vis])
                A = np.exp(sc - sc.max())
                A /= A.sum()
                want = sd["o_dense.weight"] @ (u[t] * (A @ v[list(vis)])) + sd["o_dense.bias"]
                out, st = mx.step(a[t], st, t)
                np.testing.assert_allclose(out.numpy(), want, atol=1e-12)
                np.testing.assert_allclose(seq[t], want, atol=1e-12)


class ModelTest(unittest.TestCase):
    HEADS = [
        (TOK, {"type": "next_token", "tie_embeddings": False}, True),
        (TOK, {"type": "next_token", "tie_embeddings": True}, False),
        (TOK_BOS, {"type": "next_token", "tie_embeddings": False}, False),
        (TOK_BOS, {"type": "next_token", "tie_embeddings": True}, True),
        (FEAT, {"type": "classes", "num_classes": 4}, True),
        (TOK_BOS, {"type": "classes", "num_classes": 4}, True),
        (FEAT, {"type": "regression", "dim": 3}, True),
    ]

    def _models(self):
        for i, (inp, head, hb) in enumerate(self.HEADS):
            for norm, gel in (("layer", "erf"), ("rms", "tanh")):
                c = cfg(8, inp, ALL_MIXERS, head, norm=norm, gelu=gel)
                yield RM.build_random(c, 10 + i, attn_bias=[False, False, i % 2 == 0, False,
                                                            False], head_bias=hb)

    def test_interleaved_stepping_equals_batch(self):
        for model in self._models():
            streams = {k: random_inputs(model, 30 + 7 * j, j) for j, k in
                       enumerate(["a", "bb", "ключ"])}
            order = [k for k in streams for _ in streams[k]]
            np.random.RandomState(0).shuffle(order)
            sc = R.StreamScorer(model)
            pos = {k: 0 for k in streams}
            got = {k: [] for k in streams}
            for k in order:
                v = streams[k][pos[k]]
                pos[k] += 1
                r = sc.score(k, **({"token": v} if model.input_type == "tokens"
                                   else {"features": v}))
                self.assertEqual(r["seq"], len(got[k]))
                got[k].append(r)
            for k, vals in streams.items():
                want = R.score_stream_batch(model, vals)
                for g, w in zip(got[k], want):
                    for x, y in zip(flat(g), flat(w)):
                        self.assertTrue(within(x, y, 1e-11), (model.config["head"], x, y))

    def test_first_event(self):
        for model in self._models():
            v = random_inputs(model, 1, 0)[0]
            kw = {"token": v} if model.input_type == "tokens" else {"features": v}
            r = R.StreamScorer(model).score("k", **kw)
            with torch.no_grad():
                zero = model.head_out(torch.zeros(8, dtype=DT))
                self.assertTrue(torch.allclose(zero, model.initial_output()))
                ht = model.head_type
                if ht == "next_token" and model.bos_token is not None:
                    logits = model.forward_seq([model.bos_token])[0]
                    self.assertAlmostEqual(r["score"], -float(torch.log_softmax(logits, -1)[v]),
                                           places=12)
                elif ht == "next_token":
                    self.assertAlmostEqual(r["score"], -float(torch.log_softmax(zero, -1)[v]),
                                           places=12)
                elif ht == "regression":
                    self.assertAlmostEqual(r["score"], float(((zero - torch.tensor(v, dtype=DT)) ** 2)
                                                             .mean()), places=12)
                else:
                    seq = [v] if model.bos_token is None else [model.bos_token, v]
                    p = torch.softmax(model.forward_seq(seq)[-1], -1)
                    self.assertEqual(len(r["probs"]), 4)
                    self.assertAlmostEqual(sum(r["probs"]), 1.0, places=12)
                    self.assertAlmostEqual(r["probs"][0], float(p[0]), places=14)

    def test_composition_numpy(self):
        """Block wiring, norms, glu, mlp, final norm, heads and BOS rewritten in numpy
        (mixer outputs taken from the separately checked mixers)."""
        def norm(x, w, b, kind, eps):
            if kind == "layer":
                mu = x.mean(-1, keepdims=True)
                return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * w + b
            return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w

        def gel(x, kind):
            if kind == "erf":
                return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.flat]
                                ).reshape(x.shape)
            return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

        sig = lambda x: 1 / (1 + np.exp(-x))
        for model in self._models():
            c = model.config
            p = {k: v.detach().numpy() for k, v in model.state_dict().items()}
            eps, kind, gk = c.get("norm_eps", 1e-5), c["norm"], c.get("gelu", "erf")
            vals = random_inputs(model, 25, 3)
            seq = list(vals)
            bos = "bos_token" in c["input"]
            if bos:
                seq = [c["input"]["bos_token"]] + seq
            if model.input_type == "tokens":
                x = p["embed.weight"][seq]
            else:
                x = np.array(seq) @ p["input_proj.weight"].T + p["input_proj.bias"]
            for i, b in enumerate(c["blocks"]):
                q = "blocks.%d." % i
                a = norm(x, p[q + "norm.weight"], p.get(q + "norm.bias"), kind, eps)
                with torch.no_grad():
                    m = model.blocks[i].mixer.forward_seq(torch.tensor(a)).numpy()
                if b.get("post", "glu") == "glu":
                    g = gel(m, gk)
                    m = (g @ p[q + "out1.weight"].T + p[q + "out1.bias"]) * \
                        sig(g @ p[q + "out2.weight"].T + p[q + "out2.bias"])
                x = x + m
                if b.get("mlp"):
                    h = norm(x, p[q + "mlp_norm.weight"], p.get(q + "mlp_norm.bias"), kind, eps)
                    h = gel(h @ p[q + "mlp.fc1.weight"].T + p[q + "mlp.fc1.bias"], gk)
                    x = x + h @ p[q + "mlp.fc2.weight"].T + p[q + "mlp.fc2.bias"]
            x = np.concatenate([np.zeros((1, 8)), x])      # row 0: the all-zero "y_{-1}"
            y = norm(x, p["final_norm.weight"], p.get("final_norm.bias"), kind, eps)
            W = p["embed.weight"] if model.tied else p["head.weight"]
            out = y @ W.T + p.get("head.bias", 0)
            if bos:
                out = out[1:]                               # drop y_{-1}; row 0 = after BOS
            sc = R.StreamScorer(model)
            for t, v in enumerate(vals):
                r = sc.score("k", **({"token": v} if model.input_type == "tokens"
                                     else {"features": v}))
                prev, cur = out[t], out[t + 1]
                if model.head_type == "next_token":
                    want = [-(prev[v] - prev.max() - math.log(np.exp(prev - prev.max()).sum()))]
                elif model.head_type == "classes":
                    e = np.exp(cur - cur.max())
                    want = list(e / e.sum())
                else:
                    want = [float(((prev - np.array(v)) ** 2).mean())]
                for x1, y1 in zip(flat(r), want):
                    self.assertTrue(within(x1, y1, 1e-11), (c["head"], t, x1, y1))

    def test_position_offset(self):
        """Only differences of positions matter: keys starting at P give the same scores."""
        c = cfg(8, TOK_BOS, [ALL_MIXERS[2], ALL_MIXERS[4]],
                {"type": "next_token", "tie_embeddings": False})
        model = RM.build_random(c, 7, attn_bias=[True, False])
        toks = random_inputs(model, 40, 1)
        sc0 = R.StreamScorer(model)
        base = [sc0.score("k", token=t)["score"] for t in toks]
        for P, tol in ((1000, 1e-11), (10 ** 6, 1e-9), (2 ** 40, 1e-4)):
            sc = R.StreamScorer(model, pos_offset=P)
            got = [sc.score("k", token=t)["score"] for t in toks]
            for x, y in zip(got, base):
                self.assertTrue(within(x, y, tol), (P, x, y))
            bat = [r["score"] for r in R.score_stream_batch(model, toks, pos0=P)]
            for x, y in zip(bat, base):
                self.assertTrue(within(x, y, tol), (P, x, y))

    def test_window_forgets(self):
        """An attention-only model sees just the last W positions: a change older than
        that does not change the score."""
        c = cfg(8, TOK, [{"mixer": {"type": "attention", "heads": 2, "window": 4},
                          "post": "none"}],
                {"type": "next_token", "tie_embeddings": False})
        model = RM.build_random(c, 8)
        toks = random_inputs(model, 20, 2)
        other = [(toks[0] + 1) % 20] + toks[1:]
        s1 = R.score_stream_batch(model, toks)
        s2 = R.score_stream_batch(model, other)
        self.assertNotAlmostEqual(s1[2]["score"], s2[2]["score"], places=6)
        for t in range(5, 20):       # logits_{t-1} sees positions t-4 .. t-1 only
            self.assertAlmostEqual(s1[t]["score"], s2[t]["score"], places=12)


class SinksTest(unittest.TestCase):
    """Extension "sinks" (attention sinks) on attention and gau: an explicit per-position
    formula, stepping == batch, sinks 0 == absent, and a wrong variant is caught."""

    @staticmethod
    def _naive(mx, a, P=0, variant="shifted"):
        """Python-float loops. variant "shifted" is the extension as specified (sink j at
        w0 - S + j once the window leaves a gap); "original" keeps sinks at their own
        positions (StreamingLLM done wrong); "no_sinks" ignores them."""
        sd = {k: v.detach().numpy() for k, v in mx.state_dict().items()}
        W, S = mx.W, mx.sinks
        if isinstance(mx, R.Attention):
            h, d = mx.h, mx.d
            lin = lambda n, x: sd[n + ".weight"] @ x + (sd[n + ".bias"] if n + ".bias" in sd
                                                         else 0)
            q = [lin("q", x) for x in a]
            k = [lin("k", x) for x in a]
            v = [lin("v", x) for x in a]
            heads = [(slice(j * d, (j + 1) * d),) * 2 for j in range(h)]
        else:
            d, E = mx.S, mx.E
            x = a @ sd["i_dense.weight"].T + sd["i_dense.bias"]
            x = x / (1 + np.exp(-x))
            u, v, z = x[:, :E], x[:, E:2 * E], x[:, 2 * E:]
            q = z * sd["q_scale"] + sd["q_offset"]
            k = z * sd["k_scale"] + sd["k_offset"]
            heads = [(slice(0, d), slice(0, E))]        # (q/k slice, v slice)

        def rot(w, pos):
            half = d // 2
            out = [0.0] * d
            for j in range(half):
                ang = pos * mx.theta ** (-2.0 * j / d)
                out[j] = w[j] * math.cos(ang) - w[j + half] * math.sin(ang)
                out[j + half] = w[j + half] * math.cos(ang) + w[j] * math.sin(ang)
            return out
        res = []
        for t in range(len(a)):
            w0 = max(0, t - W + 1)
            sinks = [] if variant == "no_sinks" else list(range(min(S, t + 1)))
            vis = sorted(set(sinks) | set(range(w0, t + 1)))
            n = len(vis)
            if variant != "no_sinks":
                assert n == min(t + 1, S + W)

            def kpos(s):
                if variant == "shifted" and w0 > S and s < S:
                    return s + w0 - S
                return s
            scale = 1.0 if mx.logn is None else max(1.0, math.log(n) / math.log(mx.logn))
            cat = []
            for sl, vsl in heads:
                qt = rot(q[t][sl], P + t)
                sc = [scale * sum(x1 * y1 for x1, y1 in zip(qt, rot(k[s][sl], P + kpos(s))))
                      / math.sqrt(d) for s in vis]
                mxs = max(sc)
                e = [math.exp(x1 - mxs) for x1 in sc]
                zz = sum(e)
                cat.extend(sum(e[i] / zz * v[s][vsl][c] for i, s in enumerate(vis))
                           for c in range(len(v[0][vsl])))
            if isinstance(mx, R.Attention):
                res.append(lin("o", np.array(cat)))
            else:
                res.append(sd["o_dense.weight"] @ (u[t] * np.array(cat)) + sd["o_dense.bias"])
        return np.array(res)

    def _mixers(self):
        torch.manual_seed(11)
        for S, W, logn in ((3, 5, 3), (1, 4, None), (6, 3, 2)):
            mx = R.Attention(8, 2, W, 100.0, logn, True, sinks=S)
            with torch.no_grad():
                mx.q.weight.mul_(3)
                mx.k.weight.mul_(3)
            yield mx
            g = R.GAU(6, 2, 4, W, 30.0, logn if logn else 512, sinks=S)
            with torch.no_grad():
                for p in (g.q_scale, g.k_scale):
                    p.copy_(1 + torch.randn(4, dtype=DT))
                for p in (g.q_offset, g.k_offset):
                    p.copy_(torch.randn(4, dtype=DT))
                g.i_dense.weight.mul_(2)
            yield g

    def test_naive_step_batch(self):
        for mx in self._mixers():
            T = 20
            a = torch.randn(T, mx.H, dtype=DT)
            for P in (0, 1000):
                want = self._naive(mx, a.numpy(), P)
                wrong = self._naive(mx, a.numpy(), P, "original")
                with torch.no_grad():
                    bat = mx.forward_seq(a, P).numpy()
                    st = mx.init_state()
                    stp = np.array([mx.step(a[t], st, P + t)[0].numpy() for t in range(T)])
                np.testing.assert_allclose(bat, want, atol=1e-11)
                np.testing.assert_allclose(stp, want, atol=1e-11)
                # the wrong variant agrees while there is no gap (w0 <= S), differs after
                gap = [t for t in range(T) if t - mx.W + 1 > mx.sinks]
                self.assertTrue(gap)
                np.testing.assert_allclose(wrong[:gap[0]], want[:gap[0]], atol=1e-11)
                self.assertGreater(np.abs(wrong[gap] - want[gap]).max(), 1e-3,
                                   (type(mx).__name__, mx.sinks, mx.W))

    def test_sinks_zero_is_absent(self):
        for t in ("attention", "gau"):
            m = {"type": t, "window": 5, "logn_base": 3}
            m.update({"heads": 2} if t == "attention" else {"key_size": 4})
            c0 = cfg(8, TOK_BOS, [{"mixer": m, "post": "glu"}],
                     {"type": "next_token", "tie_embeddings": False})
            c1 = json.loads(json.dumps(c0))
            c1["blocks"][0]["mixer"]["sinks"] = 0
            m0 = RM.build_random(c0, 4)
            m1 = R.LseqModel(c1)
            m1.load_state_dict(m0.state_dict())
            toks = random_inputs(m0, 30, 5)
            s0, s1 = R.StreamScorer(m0), R.StreamScorer(m1)
            for v in toks:
                self.assertEqual(s0.score("k", token=v), s1.score("k", token=v))
            self.assertEqual(R.score_stream_batch(m0, toks), R.score_stream_batch(m1, toks))
            # the sinks model is the no-sinks model while the window still holds position 0
            c2 = json.loads(json.dumps(c0))
            c2["blocks"][0]["mixer"]["sinks"] = 2
            m2 = R.LseqModel(c2)
            m2.load_state_dict(m0.state_dict())
            a, b = R.score_stream_batch(m0, toks), R.score_stream_batch(m2, toks)
            # BOS at position 0: event i at position i+1; its logits come from position i;
            # w0 = max(0, i - 5 + 1) > 0 (position 0 left the window) from i = 5
            for i in range(5):
                self.assertEqual(a[i], b[i])
            self.assertNotAlmostEqual(a[5]["score"], b[5]["score"], places=6)

    def test_models_interleaved_and_offset(self):
        blocks = [{"mixer": {"type": "attention", "heads": 2, "window": 5, "logn_base": 3,
                             "sinks": 2}, "post": "none", "mlp": {"hidden": 12}},
                  {"mixer": {"type": "lru", "d_state": 6}, "post": "glu"},
                  {"mixer": {"type": "gau", "key_size": 4, "window": 4, "rope_theta": 50.0,
                             "sinks": 3}, "post": "glu"}]
        c = cfg(8, TOK_BOS, blocks, {"type": "next_token", "tie_embeddings": True})
        model = RM.build_random(c, 9, attn_bias=[True, False, False])
        streams = {k: random_inputs(model, 25 + 9 * j, j) for j, k in enumerate("xyz")}
        order = [k for k in streams for _ in streams[k]]
        np.random.RandomState(1).shuffle(order)
        sc = R.StreamScorer(model)
        pos = {k: 0 for k in streams}
        got = {k: [] for k in streams}
        for k in order:
            got[k].append(sc.score(k, token=streams[k][pos[k]])["score"])
            pos[k] += 1
        for k, vals in streams.items():
            base = [r["score"] for r in R.score_stream_batch(model, vals)]
            for x, y in zip(got[k], base):
                self.assertTrue(within(x, y, 1e-11), (k, x, y))
            for P, tol in ((10 ** 6, 1e-9), (2 ** 40, 1e-4)):
                scp = R.StreamScorer(model, pos_offset=P)
                for v, y in zip(vals, base):
                    self.assertTrue(within(scp.score(k, token=v)["score"], y, tol), (P, k))
                for r, y in zip(R.score_stream_batch(model, vals, pos0=P), base):
                    self.assertTrue(within(r["score"], y, tol), (P, k))

    def test_validation(self):
        for t in ("attention", "gau"):
            for bad in (-1, 1.5, "2", True, None):
                m = {"type": t, "window": 5, "sinks": bad}
                m.update({"heads": 2} if t == "attention" else {})
                c = cfg(8, TOK, [{"mixer": m}], {"type": "next_token"})
                with self.assertRaisesRegex(R.ModelFormatError,
                                            r"field blocks\[0\]\.mixer\.sinks"):
                    R.validate_config(c)


class EventTest(unittest.TestCase):
    def setUp(self):
        self.tok = RM.build_random(cfg(8, {"type": "tokens", "vocab_size": 512},
                                       [{"mixer": {"type": "lru", "d_state": 4}}],
                                       {"type": "next_token", "tie_embeddings": True}), 1)
        self.feat = RM.build_random(cfg(8, FEAT, [{"mixer": {"type": "lru", "d_state": 4}}],
                                        {"type": "classes", "num_classes": 2}), 1)

    def test_valid(self):
        e = R.parse_event('{"key":"c","ts":5,"token":17,"id":"x","zzz":1}', self.tok)
        self.assertEqual(e, {"key": "c", "ts": 5, "id": "x", "value": 17})
        e = R.parse_event('{"key":"s","features":[1, 2.5, -3e2]}', self.feat)
        self.assertEqual(e["value"], [1.0, 2.5, -300.0])

    def test_rejected(self):
        bad_tok = ['{"key":"c","token":17', '{"token":17}', '{"key":"c","token":9000}',
                   '{"key":"c","features":[1,2,3]}', '{"key":"c","token":"17"}',
                   '{"key":"c","token":1.5}', '{"key":"c","token":true}', '',
                   '{"key":"","token":1}', '{"key":"c","token":1,"features":[1,2,3]}',
                   '[1,2]', '{"key":"' + "x" * 257 + '","token":1}']
        for raw in bad_tok:
            with self.assertRaises(R.EventError, msg=raw):
                R.parse_event(raw, self.tok)
        with self.assertRaisesRegex(R.EventError, r"token 9000 out of range \[0, 512\)"):
            R.parse_event('{"key":"c","token":9000}', self.tok)
        for raw in ['{"key":"s","features":[1,NaN,3]}', '{"key":"s","features":[1,2]}',
                    '{"key":"s","features":[1,2,Infinity]}', '{"key":"s","features":[1,2,1e999]}',
                    '{"key":"s","token":3}', '{"key":"s","features":[1,2,"3"]}']:
            with self.assertRaises(R.EventError, msg=raw):
                R.parse_event(raw, self.feat)

    def test_cli(self):
        with tempfile.TemporaryDirectory() as d:
            c = self.tok.config
            R.save_model(os.path.join(d, "m"), c, self.tok.state_dict(), "F32")
            with open(os.path.join(d, "in.jsonl"), "w") as f:
                f.write('{"key":"a","ts":1,"token":5,"id":"e1"}\n{"key":"b","token":9000}\n'
                        '{"key":"a","token":6}\n\n{"key":"b","token":7}\n')
            R.main(["score", "--model", os.path.join(d, "m"), "--input",
                    os.path.join(d, "in.jsonl"), "--output", os.path.join(d, "out.jsonl.gz"),
                    "--dead-letter", os.path.join(d, "dead.jsonl")])
            out = [json.loads(x) for x in read_lines(os.path.join(d, "out.jsonl.gz"))]
            dead = [json.loads(x) for x in read_lines(os.path.join(d, "dead.jsonl"))]
            self.assertEqual([(o["key"], o["seq"]) for o in out], [("a", 0), ("a", 1), ("b", 0)])
            self.assertEqual((out[0]["ts"], out[0]["id"], out[0]["model"]), (1, "e1", "t"))
            self.assertNotIn("ts", out[1])
            self.assertEqual([x["source"] for x in dead], ["in.jsonl:2", "in.jsonl:4"])
            self.assertEqual(dead[0]["raw"], '{"key":"b","token":9000}')


@unittest.skipUnless(os.path.isdir(GOLDEN), "no golden folder yet")
class GoldenTest(unittest.TestCase):
    """The stored goldens agree with this code (first 600 events of every case)."""

    def test_goldens(self):
        cases = sorted(c for c in os.listdir(GOLDEN) if os.path.isdir(os.path.join(GOLDEN, c)))
        self.assertGreaterEqual(len(cases), 9)
        for case in cases:
            d = os.path.join(GOLDEN, case)
            model = R.load_model(d)
            lines = read_lines(os.path.join(d, "events.jsonl.gz"))
            exp = read_lines(os.path.join(d, "expected.jsonl.gz"))
            self.assertEqual(len(lines), len(exp), case)
            got = RM.score_lines(model, lines[:600])
            for g, e in zip(got, map(json.loads, exp)):
                self.assertEqual((g["key"], g["seq"]), (e["key"], e["seq"]), case)
                for x, y in zip(flat(g), flat(e)):
                    self.assertTrue(within(x, y, 1e-12), (case, x, y))


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main()
