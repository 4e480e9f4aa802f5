"""The chunked parallel scan against a step loop."""
import math

import pytest
import torch

import lseq
from lseq.model import LRU
from lseq.scan import LOG_MOD_CAP, lru_loglam, lru_scan, lru_step_loop


def loglam_ring(N, r_max, seed=0):
    g = torch.Generator().manual_seed(seed)
    mod = torch.linspace(0.5, r_max, N, dtype=torch.float64)
    theta = torch.rand(N, generator=g, dtype=torch.float64) * math.pi + 1e-3
    return torch.complex(torch.log(mod), theta)


def test_scan_matches_step_loop_20000_events_near_unit_modulus():
    # |lambda| up to 1 - 1e-6: the state integrates ~all 20,000 inputs
    N, T = 16, 20000
    ll = loglam_ring(N, 1 - 1e-6)
    g = torch.Generator().manual_seed(1)
    b = torch.complex(torch.randn(2, T, N, generator=g, dtype=torch.float64),
                      torch.randn(2, T, N, generator=g, dtype=torch.float64))
    want = lru_step_loop(ll, b)
    for chunk in (16, 64, 1024):
        got = lru_scan(ll, b, chunk=chunk)
        rel = float(((got - want).abs()).max() / want.abs().max())
        assert rel < 1e-10, (chunk, rel)


def test_lru_mixer_float32_within_tolerance_of_float64_steps_20000_events():
    torch.manual_seed(3)
    H, N, T = 8, 16, 20000
    m = LRU(H, N, r_min=0.99, r_max=1 - 1e-6)
    with torch.no_grad():
        m.nu_log[0] = math.log(1e-6)          # |lambda| = 1 - 1e-6 exactly-ish
    a = torch.randn(1, T, H)
    with torch.no_grad():
        got = m(a).double()
        # float64 step loop of the format's definition
        ll = lru_loglam(m.nu_log, m.theta_log)
        Bc = torch.complex(m.B_re.double(), m.B_im.double()) * torch.exp(m.gamma_log.double())[:, None]
        bu = torch.einsum("th,nh->tn", a[0].double().to(torch.complex128), Bc)
        h = lru_step_loop(ll, bu)
        C = torch.complex(m.C_re.double(), m.C_im.double())
        want = (h @ C.t()).real + m.D.double() * a[0].double()
    err = ((got[0] - want).abs() / (1e-4 + 1e-4 * want.abs())).max().item()
    assert err < 0.05, err


@pytest.mark.parametrize("T", [1, 2, 63, 64, 65, 129, 4097])
def test_scan_lengths(T):
    ll = loglam_ring(5, 0.999)
    b = torch.randn(3, T, 5, dtype=torch.complex128)
    assert torch.allclose(lru_scan(ll, b, chunk=8), lru_step_loop(ll, b), rtol=1e-12, atol=1e-12)


def test_scan_gradients_match_autograd_through_the_loop():
    ll = loglam_ring(6, 0.9999).requires_grad_()
    b = torch.randn(2, 300, 6, dtype=torch.complex128, requires_grad=True)
    w = torch.randn(2, 300, 6, dtype=torch.complex128)
    g1 = torch.autograd.grad((lru_scan(ll, b, chunk=16) * w).real.sum(), (ll, b))
    g2 = torch.autograd.grad((lru_step_loop(ll, b) * w).real.sum(), (ll, b))
    for x, y in zip(g1, g2):
        assert torch.allclose(x, y, rtol=1e-9, atol=1e-9)


def test_scan_gradcheck():
    ll = loglam_ring(3, 0.99).requires_grad_()
    b = torch.randn(2, 37, 3, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda l, x: lru_scan(l, x, chunk=4), (ll, b))


def test_modulus_cap():
    ll = lru_loglam(torch.tensor([-50.0, 0.0]), torch.tensor([0.0, 0.0]))
    assert float(ll.real[0]) == LOG_MOD_CAP            # |lambda| = 1 - 2^-40
    assert float(ll.real[1]) == -1.0


def test_model_gradients_flow_to_every_parameter():
    from conftest import MIXED
    torch.manual_seed(0)
    m = lseq.LseqModel(MIXED)
    x = torch.randint(0, 20, (2, 40))
    m.scores(x).mean().backward()
    for n, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), n
