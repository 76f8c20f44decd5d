#!/usr/bin/python3
"""Variants of a bundle's decoder_step.onnx for bench/step-graphs.mjs (issue 16's graph comparison):
  bare.onnx   - only logits and h_out (every decoding head removed, with the nodes only they need)
  no-top.onnx - the top_ids/top_logits head (TopK k) removed; best_*, log_z kept
Usage: /usr/bin/python3 bench/peers/step_variants.py decoder_step.onnx OUTDIR
"""
import os
import sys

import onnx

src, outdir = sys.argv[1], sys.argv[2]
os.makedirs(outdir, exist_ok=True)


def keep_outputs(names, path):
    m = onnx.load(src)
    outs = [o for o in m.graph.output if o.name in names]
    del m.graph.output[:]
    m.graph.output.extend(outs)
    need, nodes = set(names), []
    for n in reversed(list(m.graph.node)):
        if any(x in need for x in n.output):
            nodes.append(n)
            need.update(n.input)
    del m.graph.node[:]
    m.graph.node.extend(reversed(nodes))
    inits = [t for t in m.graph.initializer if t.name in need]
    del m.graph.initializer[:]
    m.graph.initializer.extend(inits)
    onnx.checker.check_model(m)
    onnx.save(m, path)


full = [o.name for o in onnx.load(src).graph.output]
keep_outputs(["logits", "h_out"], os.path.join(outdir, "bare.onnx"))
keep_outputs([n for n in full if n not in ("top_ids", "top_logits")], os.path.join(outdir, "no-top.onnx"))
