#!/usr/bin/python3
"""PyTorch peer for `npm run bench -- train`: the same models, shapes, loss and optimizer as vaekit's
training step, timed on CPU. Run with Debian's python3-torch (`/usr/bin/python3`).

It is driven by bench/train.mjs over stdin/stdout, one JSON object per line, so its steps interleave with
vaekit's in the same run:
  {"cmd": "info"}                         -> torch version, BLAS library actually loaded, threads
  {"cmd": "setup", "config": "dense"}     -> builds the model, picks the fastest thread count (optional
                                             "trial": [warm-up steps, timed steps] per setting, default [3, 5]),
                                             reports its trainable parameters
  {"cmd": "steps", "config": "dense", "n": 5} -> {"times": [ms, ...]} one Adam step each
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "dense": dict(pixels=784, hidden=400, latent=20, batch=128),
    "text": dict(vocab=5000, emb=128, hidden=256, latent=32, length=25, batch=32),
    "translate": dict(src_vocab=8221, tgt_vocab=5256, emb=128, hidden=256, length=13, batch=64),
    "classify": dict(vocab=10000, emb=64, hidden=256, latent=32, classes=2, max_length=100, batch=64, labels=100),
}


def blas_library():
    """The BLAS shared object torch really loaded (Debian's torch links libblas.so.3, an alternative)."""
    import os
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if path.startswith("/") and ("blas" in path or "mkl" in path):
                libs.add(os.path.realpath(path))
    return sorted(libs)


class DenseVae(nn.Module):
    def __init__(self, pixels, hidden, latent):
        super().__init__()
        self.enc = nn.Linear(pixels, hidden)
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.dec = nn.Linear(latent, hidden)
        self.out = nn.Linear(hidden, pixels)

    def loss(self, x, eps):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * logvar) * eps
        logits = self.out(F.relu(self.dec(z)))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        return (recon + kl).mean()


class TextVae(nn.Module):
    """docs/text-model.md with a GRU cell: masked encoder (packed sequence), decoder with h0 = tanh(Dense(z))
    and z concatenated to every input embedding, logits over the vocabulary at every position."""

    def __init__(self, vocab, emb, hidden, latent):
        super().__init__()
        self.enc_emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.enc_rnn = nn.GRU(emb, hidden, batch_first=True)
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.dec_init = nn.Linear(latent, hidden)
        self.dec_emb = nn.Embedding(vocab, emb)
        self.dec_rnn = nn.GRU(emb + latent, hidden, batch_first=True)
        self.logits = nn.Linear(hidden, vocab)

    def loss(self, tokens, tokens_in, lengths, eps):
        packed = nn.utils.rnn.pack_padded_sequence(self.enc_emb(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, h = self.enc_rnn(packed)
        h = h[0]
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * logvar) * eps
        h0 = torch.tanh(self.dec_init(z)).unsqueeze(0)
        t = tokens_in.shape[1]
        xz = torch.cat([self.dec_emb(tokens_in), z.unsqueeze(1).expand(-1, t, -1)], -1)
        y, _ = self.dec_rnn(xz, h0)
        logits = self.logits(y)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1), reduction="none").view(tokens.shape)
        mask = (tokens != 0).float()
        recon = (nll * mask).sum(1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        return (recon + kl).mean()


class Translator(nn.Module):
    """docs/seq2seq-model.md, the attention baseline (--latent 0, additive score): bidirectional GRU encoder
    over the masked source (packed sequence), masked mean of its states, decoder state h0 = tanh(Dense);
    GRU decoder over the whole target (teacher forcing), additive attention of each output over the
    encoder states (padded keys at -1e9), tanh Dense on [output, context], logits at every position."""

    def __init__(self, src_vocab, tgt_vocab, emb, hidden):
        super().__init__()
        self.src_emb = nn.Embedding(src_vocab, emb, padding_idx=0)
        self.enc = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.init_h = nn.Linear(2 * hidden, hidden)
        self.tgt_emb = nn.Embedding(tgt_vocab, emb)
        self.dec = nn.GRU(emb, hidden, batch_first=True)
        self.query = nn.Linear(hidden, hidden, bias=False)
        self.key = nn.Linear(2 * hidden, hidden, bias=False)
        self.score = nn.Linear(hidden, 1, bias=False)
        self.out = nn.Linear(3 * hidden, hidden)
        self.logits = nn.Linear(hidden, tgt_vocab)

    def loss(self, src, src_lengths, tgt, tgt_in, tgt_mask):
        s = src.shape[1]
        packed = nn.utils.rnn.pack_padded_sequence(self.src_emb(src), src_lengths, batch_first=True, enforce_sorted=False)
        states, _ = self.enc(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=s)
        mask = (src != 0).float()
        summary = (states * mask.unsqueeze(2)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        h0 = torch.tanh(self.init_h(summary)).unsqueeze(0)
        d, _ = self.dec(self.tgt_emb(tgt_in), h0)
        e = torch.tanh(self.query(d).unsqueeze(2) + self.key(states).unsqueeze(1))
        scores = self.score(e).squeeze(3) + (1 - mask).unsqueeze(1) * -1e9
        weights = torch.softmax(scores, -1)
        context = torch.bmm(weights, states)
        hidden = torch.tanh(self.out(torch.cat([d, context], -1)))
        logits = self.logits(hidden)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="none").view(tgt.shape)
        return (nll * tgt_mask).sum(1).mean()


def tfjs_gru_biases(gru):
    """tfjs' GRU (reset_after = false) has one bias of 3H per direction, torch's two: the recurrent bias is
    zeroed and frozen so that the twin trains the same parameters (the same count, see "parameters")."""
    for name, p in gru.named_parameters():
        if name.startswith("bias_hh"):
            nn.init.zeros_(p)
            p.requires_grad_(False)
    return gru


class SsVae(nn.Module):
    """docs/classifier.md, M2 with the GRU encoder (Kingma et al. 2014): q(y|x) = softmax(Dense(h)) on the
    masked encoder GRU's final state h (packed sequence); q(z|x,y) = Dense([h; y]) with h detached; the
    sentence decoder on [z; onehot(y)]: h0 = tanh(Dense), [z; y] concatenated to every input embedding,
    logits at every position. One pass: the encoder reads [unlabelled; labelled], the decoder every
    (unlabelled text, class) pair (class-major) and the labelled texts, with one noise draw per text
    shared by its classes."""

    def __init__(self, vocab, emb, hidden, latent, classes):
        super().__init__()
        self.classes = classes
        self.enc_emb = nn.Embedding(vocab, emb, padding_idx=0)
        self.enc_rnn = tfjs_gru_biases(nn.GRU(emb, hidden, batch_first=True))
        self.cls = nn.Linear(hidden, classes)
        self.mu = nn.Linear(hidden + classes, latent)
        self.logvar = nn.Linear(hidden + classes, latent)
        self.dec_init = nn.Linear(latent + classes, hidden)
        self.dec_emb = nn.Embedding(vocab, emb)
        self.dec_rnn = tfjs_gru_biases(nn.GRU(emb + latent + classes, hidden, batch_first=True))
        self.logits = nn.Linear(hidden, vocab)

    def loss(self, tokens, lengths, dec_tokens, dec_tokens_in, y, y_lab, eps, alpha, l2):
        c = self.classes
        b = tokens.shape[0] - y_lab.shape[0]
        packed = nn.utils.rnn.pack_padded_sequence(self.enc_emb(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, h = self.enc_rnn(packed)
        h = h[0]
        probs = torch.softmax(self.cls(h), -1)
        q = probs[:b].clamp(1e-7, 1)
        q_lab = probs[b:]
        h_all = torch.cat([h[:b]] * c + [h[b:]]).detach()
        hy = torch.cat([h_all, y], 1)
        mu, logvar = self.mu(hy), self.logvar(hy)
        z = mu + torch.exp(0.5 * logvar) * eps
        zy = torch.cat([z, y], 1)
        h0 = torch.tanh(self.dec_init(zy)).unsqueeze(0)
        t = dec_tokens_in.shape[1]
        xz = torch.cat([self.dec_emb(dec_tokens_in), zy.unsqueeze(1).expand(-1, t, -1)], -1)
        out, _ = self.dec_rnn(xz, h0)
        logits = self.logits(out)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dec_tokens.reshape(-1), reduction="none").view(dec_tokens.shape)
        recon = (nll * (dec_tokens != 0).float()).sum(1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        loss = recon + kl
        u = (loss[: c * b].view(c, b) * q.t()).sum(0) + (q * q.log()).sum(1)
        ce = -(y_lab * q_lab.clamp(1e-7, 1).log()).sum(1)
        return u.mean() + loss[c * b :].mean() + alpha * ce.mean() + l2 * self.cls.weight.pow(2).sum()


def classify_batch(c, g):
    """min(100, 20 + U[0, 900)) word ids from 4 up per text (about 91% cut at 100 tokens, as IMDB reviews
    are), then <eos>; <bos> first on the decoder input; half unlabelled, half labelled with alternating
    classes; the same construction as bench/lib/classify-model.mjs."""
    b, n_max, k = c["batch"], c["max_length"], c["classes"]
    t = n_max + 1
    tokens = torch.zeros(2 * b, t, dtype=torch.long)
    tokens_in = torch.zeros(2 * b, t, dtype=torch.long)
    lengths = torch.clamp(20 + torch.randint(0, 900, (2 * b,), generator=g), max=n_max) + 1
    for i in range(2 * b):
        n = int(lengths[i]) - 1
        tokens[i, :n] = torch.randint(4, c["vocab"], (n,), generator=g)
        tokens[i, n] = 3  # <eos>
        tokens_in[i, 0] = 2  # <bos>
        tokens_in[i, 1 : n + 1] = tokens[i, :n]
    labels = torch.arange(b) % k
    y_lab = F.one_hot(labels, k).float()
    y = torch.cat([F.one_hot(torch.full((b,), cls), k).float() for cls in range(k)] + [y_lab])
    rows = torch.cat([torch.arange(b)] * k + [torch.arange(b, 2 * b)])
    eps_u = torch.randn(b, c["latent"], generator=g)
    eps_l = torch.randn(b, c["latent"], generator=g)
    eps = torch.cat([eps_u] * k + [eps_l])
    return tokens, lengths, tokens[rows], tokens_in[rows], y, y_lab, eps, 0.1 * c["labels"], 1e-3


def translate_batch(c, g):
    """Lengths 3..11 a side (the 12-token setting's real spread), <eos> after the target, <bos> first on
    the decoder input, padding 0; the same construction as bench/lib/translate-model.mjs."""
    b, t = c["batch"], c["length"]
    src = torch.zeros(b, t, dtype=torch.long)
    tgt = torch.zeros(b, t, dtype=torch.long)
    tgt_in = torch.zeros(b, t, dtype=torch.long)
    tgt_mask = torch.zeros(b, t)
    src_lengths = torch.randint(3, 12, (b,), generator=g)
    tgt_lengths = torch.randint(3, 12, (b,), generator=g)
    for i in range(b):
        n, m = int(src_lengths[i]), int(tgt_lengths[i])
        src[i, :n] = torch.randint(4, c["src_vocab"], (n,), generator=g)
        words = torch.randint(4, c["tgt_vocab"], (m,), generator=g)
        tgt[i, :m] = words
        tgt[i, m] = 3  # <eos>
        tgt_mask[i, : m + 1] = 1
        tgt_in[i, 0] = 2  # <bos>
        tgt_in[i, 1 : m + 1] = words
    return src, src_lengths, tgt, tgt_in, tgt_mask


def make(config):
    c = CONFIGS[config]
    g = torch.Generator().manual_seed(0)
    if config == "dense":
        model = DenseVae(c["pixels"], c["hidden"], c["latent"])
        x = torch.rand(c["batch"], c["pixels"], generator=g)
        eps = torch.randn(c["batch"], c["latent"], generator=g)
        args = (x, eps)
    elif config == "classify":
        model = SsVae(c["vocab"], c["emb"], c["hidden"], c["latent"], c["classes"])
        args = classify_batch(c, g)
    elif config == "translate":
        model = Translator(c["src_vocab"], c["tgt_vocab"], c["emb"], c["hidden"])
        args = translate_batch(c, g)
    else:
        model = TextVae(c["vocab"], c["emb"], c["hidden"], c["latent"])
        b, t = c["batch"], c["length"]
        lengths = torch.randint(5, t + 1, (b,), generator=g)
        tokens = torch.randint(4, c["vocab"], (b, t), generator=g)
        tokens_in = torch.zeros(b, t, dtype=torch.long)
        for i in range(b):
            n = int(lengths[i])
            tokens[i, n - 1] = 3  # <eos>
            tokens[i, n:] = 0
            tokens_in[i, 0] = 2  # <bos>
            tokens_in[i, 1:n] = tokens[i, : n - 1]
        eps = torch.randn(b, c["latent"], generator=g)
        args = (tokens, tokens_in, lengths, eps)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model.loss(*args)
        loss.backward()
        opt.step()
        return float(loss)

    step.parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return step


_openblas = None


def set_threads(n):
    """torch's intra-op threads and, when torch runs on OpenBLAS, OpenBLAS' own pool (torch does not
    resize it, and idle OpenBLAS threads spin, which costs a lot on a loaded machine)."""
    global _openblas
    torch.set_num_threads(n)
    if _openblas is None:
        import ctypes
        _openblas = False
        for lib in blas_library():
            if "openblas" in lib:
                try:
                    _openblas = ctypes.CDLL(lib)
                    _openblas.openblas_set_num_threads
                    break
                except (OSError, AttributeError):
                    _openblas = False
    if _openblas:
        _openblas.openblas_set_num_threads(n)


def timed(step, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


MAX_THREADS = os.cpu_count() or 1
steps = {}
threads = {}


def handle(msg):
    cmd = msg["cmd"]
    if cmd == "info":
        return {"torch": torch.__version__, "blas": blas_library(), "max_threads": MAX_THREADS}
    if cmd == "peak":
        # The machine's matrix-multiply rate as torch's BLAS sees it: 1024^3 sgemm, best thread setting.
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        best = 0.0
        for n in sorted({1, MAX_THREADS}):
            set_threads(n)
            for _ in range(2):
                a @ b
            t = median(timed(lambda: a @ b, 7))
            best = max(best, 2 * 1024 ** 3 / t / 1e6)
        return {"gflops": round(best, 1)}
    config = msg["config"]
    if cmd == "setup":
        torch.manual_seed(0)
        step = make(config)
        steps[config] = step
        # Fastest thread setting for this model on this machine (1 .. all cores).
        best = None
        trial = {}
        warmup, n_timed = msg.get("trial", [3, 5])
        for n in sorted({1, MAX_THREADS}):
            set_threads(n)
            timed(step, warmup)
            trial[n] = median(timed(step, n_timed))
            if best is None or trial[n] < trial[best]:
                best = n
        threads[config] = best
        return {"threads": best, "trial_ms": trial, "parameters": step.parameters}
    if cmd == "steps":
        set_threads(threads[config])
        return {"times": timed(steps[config], int(msg["n"]))}
    raise ValueError("unknown command %r" % cmd)


for line in sys.stdin:
    if not line.strip():
        continue
    try:
        reply = handle(json.loads(line))
    except Exception as e:  # reported to the driver, which fails the benchmark with this message
        reply = {"error": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
