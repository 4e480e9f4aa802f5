#!/usr/bin/python3
"""Checks the float32 peer step against the float64 reference on a short stream, then
exports it to ONNX (state in, state out) for the ONNX Runtime peer.

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
    scorer = R.StreamScorer(ref)
    st = step.initial()
    worst = 0.0
    with torch.no_grad():
        for t in tokens:
            want = scorer.score("k", token=t)["score"]
            got, *st = step(torch.tensor([t]), *st)
            worst = max(worst, abs(float(got[0]) - want) / (1e-4 + 1e-4 * abs(want)))
    print("peer step vs float64 reference, 300 events: worst error %.4f of the format's tolerance" % worst)
    if worst > 1:
        sys.exit("the peer step does not match the reference")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    init = step.initial()
    names = ["y"] + ["h%d_%s" % (i // 2, "re" if i % 2 == 0 else "im") for i in range(len(init) - 1)]
    torch.onnx.export(step, (torch.tensor([3]), *init), a.out, opset_version=17,
                      input_names=["token"] + names, output_names=["score"] + [n + "_out" for n in names])
    print("wrote %s (%d bytes); inputs: token int64[1], %s float32" % (a.out, os.path.getsize(a.out),
                                                                     ", ".join(names)))


if __name__ == "__main__":
    main()
