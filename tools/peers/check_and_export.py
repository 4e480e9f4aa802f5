#!/usr/bin/python3
"""Checks the float32 peer step against the float64 reference on a short stream (one key, and
four keys in one batch), then exports it to ONNX (states in, states out, a dynamic batch
dimension: every product a GEMM over the batch's rows) for the ONNX Runtime peer.

    /usr/bin/python3 tools/peers/check_and_export.py --model examples/models/reference-lru \
        --out target/peers/reference-lru.onnx
"""

import argparse
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lru_step  # noqa: E402
import lseq_ref as R  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.set_num_threads(1)
    ref = R.load_model(a.model)
    step = lru_step.LruStep(ref)
    rnd = random.Random(1)
    tokens = [rnd.randrange(ref.vocab_size) for _ in range(300)]
    # Four keys stepped together in one batch, key 0 with the tokens above: each row must match
    # the reference of its own stream (rows never mix).
    keys = 4
    streams = [tokens] + [[rnd.randrange(ref.vocab_size) for _ in range(300)] for _ in range(keys - 1)]
    scorers = [R.StreamScorer(ref) for _ in range(keys)]
    st = step.initial(keys)
    worst = 0.0
    with torch.no_grad():
        for t in range(300):
            got, *st = step(torch.tensor([s[t] for s in streams]), *st)
            for k in range(keys):
                want = scorers[k].score("k", token=streams[k][t])["score"]
                worst = max(worst, abs(float(got[k]) - want) / (1e-4 + 1e-4 * abs(want)))
    print("peer step vs float64 reference, %d keys x 300 events in batches of %d: worst error %.4f of the "
          "format's tolerance" % (keys, keys, worst))
    if worst > 1:
        sys.exit("the peer step does not match the reference")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    init = step.initial(2)
    names = ["y"] + ["h%d_%s" % (i // 2, "re" if i % 2 == 0 else "im") for i in range(len(init) - 1)]
    outs = ["score"] + [n + "_out" for n in names]
    axes = {n: {0: "batch"} for n in ["token"] + names + outs}
    torch.onnx.export(step, (torch.tensor([3, 5]), *init), a.out, opset_version=17,
                      input_names=["token"] + names, output_names=outs, dynamic_axes=axes)
    print("wrote %s (%d bytes); inputs: token int64[batch], %s float32[batch, width]" % (
        a.out, os.path.getsize(a.out), ", ".join(names)))


if __name__ == "__main__":
    main()
