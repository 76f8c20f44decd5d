#!/usr/bin/python3
"""The text VAE's inference graphs written in PyTorch and exported with torch.onnx.export: the peer of
bench/text-inference.mjs. Reads the tfjs weights the bench wrote (weights.json + weights.bin), builds
the same architecture (LSTM cell, sigmoid recurrent activation: torch's nn.LSTM), copies the weights so
the outputs match, and writes encoder.onnx and decoder_step.onnx into the given folder.

Usage: /usr/bin/python3 bench/torch_text_vae.py <work-dir>
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn

work = sys.argv[1]
spec = json.load(open(os.path.join(work, "weights.json")))
blob = open(os.path.join(work, "weights.bin"), "rb").read()


def weight(name):
    w = spec["weights"][name]
    a = np.frombuffer(blob, dtype=np.float32, count=int(np.prod(w["shape"])), offset=w["offset"])
    return torch.from_numpy(a.reshape(w["shape"]).copy())


V, E, H, Z = spec["vocab"], spec["embedding"], spec["hidden"], spec["latent"]


def lstm_from(prefix, input_size):
    # tfjs keeps kernel [I, 4H], recurrent [H, 4H], bias [4H] with gates i, f, c, o: torch's order.
    m = nn.LSTM(input_size, H, batch_first=True)
    with torch.no_grad():
        m.weight_ih_l0.copy_(weight(prefix + "/kernel").T)
        m.weight_hh_l0.copy_(weight(prefix + "/recurrent_kernel").T)
        m.bias_ih_l0.copy_(weight(prefix + "/bias"))
        m.bias_hh_l0.zero_()
    return m


def dense_from(prefix):
    k = weight(prefix + "/kernel")
    m = nn.Linear(k.shape[0], k.shape[1])
    with torch.no_grad():
        m.weight.copy_(k.T)
        m.bias.copy_(weight(prefix + "/bias"))
    return m


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        with torch.no_grad():
            self.emb.weight.copy_(weight("enc_embedding/embeddings"))
        self.rnn = lstm_from("enc_rnn", E)
        self.mu = dense_from("mu")
        self.logvar = dense_from("logvar")

    def forward(self, tokens, lengths):
        y, _ = self.rnn(self.emb(tokens))
        # Right padding: the summary is the output at each row's last real step.
        idx = (lengths.long() - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, H)
        h = y.gather(1, idx).squeeze(1)
        return self.mu(h), self.logvar(h)


class DecoderStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        with torch.no_grad():
            self.emb.weight.copy_(weight("dec_embedding/embeddings"))
        self.rnn = lstm_from("dec_rnn", E + Z)
        self.out = dense_from("logits")

    def forward(self, token, h, c, z):
        x = torch.cat([self.emb(token.long()), z], dim=-1).unsqueeze(1)
        y, (h2, c2) = self.rnn(x, (h.unsqueeze(0), c.unsqueeze(0)))
        return self.out(y.squeeze(1)), h2.squeeze(0), c2.squeeze(0)


enc, step = Encoder().eval(), DecoderStep().eval()
B, T = 2, spec["steps"]
with torch.no_grad():
    torch.onnx.export(
        enc,
        (torch.ones(B, T, dtype=torch.int32), torch.full((B,), T, dtype=torch.int32)),
        os.path.join(work, "torch_encoder.onnx"),
        input_names=["tokens", "lengths"],
        output_names=["mu", "logvar"],
        dynamic_axes={"tokens": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "mu": {0: "batch"}, "logvar": {0: "batch"}},
        opset_version=spec["opset"],
    )
    torch.onnx.export(
        step,
        (torch.ones(B, dtype=torch.int32), torch.zeros(B, H), torch.zeros(B, H), torch.zeros(B, Z)),
        os.path.join(work, "torch_decoder_step.onnx"),
        input_names=["token", "h", "c", "z"],
        output_names=["logits", "h_out", "c_out"],
        dynamic_axes={n: {0: "batch"} for n in ["token", "h", "c", "z", "logits", "h_out", "c_out"]},
        opset_version=spec["opset"],
    )
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}))
