"""A numpy stand-in for the JAX calls tools/gpu/jax_bench.py makes (JaxBenchScriptTest).

Not JAX: jit does nothing and associative_scan is a plain Hillis-Steele scan. It lets the test check,
without JAX or a GPU, that the script's LRU model computes what lseq computes and that its scan
check holds, so the one run on the GPU machine is not spent on a bug in the script.
"""
from . import lax, nn, numpy  # noqa: F401

__version__ = "numpy stand-in"


class _Config:
    def update(self, *args):
        pass


config = _Config()


class _Device:
    device_kind = "numpy stand-in (no JAX)"


def devices():
    return [_Device()]


def jit(f):
    return f


def block_until_ready(x):
    return x


class Array:  # libraries probe for jax.Array once a module named jax is imported
    pass
