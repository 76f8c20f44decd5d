#!/usr/bin/python3
"""The torch.onnx twin of a text bundle's decoder_step: one GRUCell step of the same sizes
(embedding of the token concatenated with z, GRU state h, dense to vocabulary logits), exported by
torch.onnx.export with a dynamic batch. Random weights: it is the speed peer of bench/generate.mjs,
where a hand-written loop (session.run, state fed back, argmax in JS) runs it.

Usage: /usr/bin/python3 bench/peers/torch_gru_step.py OUT.onnx V E H Z OPSET
"""
import json
import sys

import torch
from torch import nn

out, V, E, H, Z, opset = sys.argv[1], *map(int, sys.argv[2:7])
torch.manual_seed(0)


class DecoderStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.cell = nn.GRUCell(E + Z, H)
        self.out = nn.Linear(H, V)

    def forward(self, token, h, z):
        h2 = self.cell(torch.cat([self.emb(token.long()), z], dim=-1), h)
        return self.out(h2), h2


step = DecoderStep().eval()
B = 2
with torch.no_grad():
    kwargs = dict(
        input_names=["token", "h", "z"],
        output_names=["logits", "h_out"],
        dynamic_axes={n: {0: "batch"} for n in ["token", "h", "z", "logits", "h_out"]},
        opset_version=opset,
    )
    args = (torch.ones(B, dtype=torch.int32), torch.zeros(B, H), torch.zeros(B, Z))
    try:
        torch.onnx.export(step, args, out, dynamo=False, **kwargs)
    except TypeError:  # torch before 2.5 has no dynamo argument
        torch.onnx.export(step, args, out, **kwargs)
print(json.dumps({"torch": torch.__version__}))
