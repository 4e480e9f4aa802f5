import numpy as np


def associative_scan(fn, elems, axis=0):
    """Inclusive scan in log2(n) rounds, calling fn(earlier, later) as jax.lax.associative_scan does."""
    elems = tuple(np.moveaxis(np.asarray(e), axis, 0) for e in elems)
    n = elems[0].shape[0]
    d = 1
    while d < n:
        joined = fn(tuple(e[:-d] for e in elems), tuple(e[d:] for e in elems))
        elems = tuple(np.concatenate([e[:d], j], axis=0) for e, j in zip(elems, joined))
        d *= 2
    return tuple(np.moveaxis(e, 0, axis) for e in elems)
