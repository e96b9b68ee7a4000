"""torch_crate.py — PyTorch CRATE models with the module tree (so the
state-dict names and layouts) of the official code, written for this test
from the equations of DESIGN §2: the CRATE classifier of Ma-Lab-Berkeley/CRATE
(model/crate.py) and CRATE-GPT of crate-lm (crate.py).

  python3 torch_crate.py EXPORT.safetensors OUT_DIR

loads EXPORT (crate-probe --export-safetensors --names official) into the
model its metadata describes with load_state_dict(strict=True), runs the
inputs crate-reference-outputs wrote into OUT_DIR and prints the largest
relative difference to crate's outputs, normwise: max|a − b| / max|b|.
Exit 0 when it is at most 1e-4.

The safetensors file is read with json + numpy (no safetensors package in
Debian 12)."""
import json
import struct
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, end = e["data_offsets"]
        a = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"])
        tensors[name] = torch.from_numpy(a.copy())
    return tensors, meta


def model_keys(meta):
    """The model section of the export's metadata: {"dim": "192", ...}."""
    keys = {}
    for line in meta["model"].splitlines()[1:]:
        k, _, v = line.strip().partition(":")
        keys[k] = v.strip().strip('"')
    return keys


class Ista(nn.Module):
    """One ISTA step on the sparse-coding objective, from x:
    ReLU(x + η (x D − x Dᵀ D) − η λ), D = weight (d, d). The official
    classifier calls it FeedForward and crate-lm MLP: only the attribute
    names around it (fn, ista) reach the state dict."""

    def __init__(self, dim, step_size, lambd):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim, dim))
        self.step_size, self.lambd = step_size, lambd

    def forward(self, x):
        w = self.weight
        return F.relu(x + self.step_size * (x @ w - (x @ w.t()) @ w) - self.step_size * self.lambd)


# ---- the image model: model/crate.py's CRATE -------------------------------

class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class Attention(nn.Module):
    """MSSA: one shared projection U per head (qkv), softmax(W Wᵀ/√p) W, out."""

    def __init__(self, dim, heads, dim_head):
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.qkv = nn.Linear(dim, heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim))

    def forward(self, x):
        b, n, _ = x.shape
        w = self.qkv(x).view(b, n, self.heads, -1).transpose(1, 2)
        a = torch.softmax(w @ w.transpose(-1, -2) * self.scale, dim=-1)
        return self.to_out((a @ w).transpose(1, 2).reshape(b, n, -1))


class Transformer(nn.Module):
    def __init__(self, dim, depth, heads, dim_head, step_size, lambd):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.ModuleList([PreNorm(dim, Attention(dim, heads, dim_head)),
                           PreNorm(dim, Ista(dim, step_size, lambd))])
            for _ in range(depth)])

    def forward(self, x):
        outputs = []
        for attn, ff in self.layers:
            x = ff(attn(x) + x)
            outputs.append(x)
        return outputs


class Patches(nn.Module):
    """b c (h p1) (w p2) -> b (h w) (p1 p2 c), as the reference's Rearrange."""

    def __init__(self, patch):
        super().__init__()
        self.patch = patch

    def forward(self, img):
        b, c, H, W = img.shape
        p = self.patch
        x = img.view(b, c, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (H // p) * (W // p), p * p * c)


class CRATE(nn.Module):
    def __init__(self, image_size, patch, channels, dim, depth, heads, dim_head, step_size, lambd):
        super().__init__()
        n = (image_size[0] // patch) * (image_size[1] // patch)
        self.to_patch_embedding = nn.Sequential(Patches(patch), nn.LayerNorm(patch * patch * channels),
                                                nn.Linear(patch * patch * channels, dim), nn.LayerNorm(dim))
        self.pos_embedding = nn.Parameter(torch.empty(1, n + 1, dim))
        self.cls_token = nn.Parameter(torch.empty(1, 1, dim))
        self.transformer = Transformer(dim, depth, heads, dim_head, step_size, lambd)
        # the encoder alone: mlp_head keeps the LayerNorm, not the classifier
        self.mlp_head = nn.Sequential(nn.LayerNorm(dim))

    def forward(self, img):
        x = self.to_patch_embedding(img)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embedding
        return self.transformer(x)


def image_features(model, images):
    """crate's cls+mean feature of every layer, last first (the last after
    the closing LayerNorm, mlp_head.0)."""
    outputs = model(images)
    feats = []
    for i, x in enumerate(reversed(outputs)):
        if i == 0:
            x = model.mlp_head[0](x)
        feats += [x[:, 0], x[:, 1:].mean(dim=1)]
    return torch.cat(feats, dim=1)


# ---- the causal model: crate-lm's CRATE-GPT --------------------------------

class CausalSelfAttention(nn.Module):
    def __init__(self, dim, heads, context):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(dim, dim, bias=False)
        self.c_proj = nn.Linear(dim, dim, bias=True)
        self.register_buffer("bias", torch.tril(torch.ones(context, context)).view(1, 1, context, context))

    def forward(self, x):
        b, t, d = x.shape
        w = self.c_attn(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)
        s = (w @ w.transpose(-2, -1)) / (d // self.heads) ** 0.5
        s = s.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
        return self.c_proj((torch.softmax(s, dim=-1) @ w).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, dim, heads, context, step_size, lambd):
        super().__init__()
        self.prenorm_1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, context)
        self.prenorm_2 = nn.LayerNorm(dim)
        self.ista = Ista(dim, step_size, lambd)

    def forward(self, x):
        x = x + self.attn(self.prenorm_1(x))
        return self.ista(self.prenorm_2(x))


class CrateGPT(nn.Module):
    def __init__(self, vocab, context, dim, depth, heads, step_size, lambd):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, dim), wpe=nn.Embedding(context, dim),
            h=nn.ModuleList([Block(dim, heads, context, step_size, lambd) for _ in range(depth)])))
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied

    def forward(self, ids):
        x = self.transformer.wte(ids) + self.transformer.wpe(torch.arange(ids.shape[1]))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(x)


def main(export, out_dir):
    tensors, meta = read_safetensors(export)
    m = model_keys(meta)
    dim, heads, depth = int(m["dim"]), int(m["heads"]), int(m["depth"])
    head_dim = int(m["head_dim"]) or dim // heads
    eta, lambd = float(m["eta"]), float(m["lambda"])
    if meta["objective"] == "gpt2":
        vocab, context = tensors["transformer.wte.weight"].shape
        model = CrateGPT(vocab, context, dim, depth, heads, eta, lambd)
        model.load_state_dict(tensors, strict=True)
        ids = torch.from_numpy(np.load(f"{out_dir}/ids.npy")).view(-1, context)
        with torch.no_grad():
            ours = model(ids).reshape(-1, vocab)
        theirs = torch.from_numpy(np.load(f"{out_dir}/logits.npy"))
        what = f"logits of {ids.shape[0]} windows of {context} tokens"
    else:
        patch = int(m["patch"])
        channels = tensors["to_patch_embedding.1.weight"].shape[0] // (patch * patch)
        n = tensors["pos_embedding"].shape[1] - 1
        images = torch.from_numpy(np.load(f"{out_dir}/images.npy"))
        side = int(round((images.shape[1] // channels) ** 0.5))
        assert side * side * channels == images.shape[1] and (side // patch) ** 2 == n
        model = CRATE((side, side), patch, channels, dim, depth, heads, head_dim, eta, lambd)
        model.load_state_dict(tensors, strict=True)
        x = images.view(-1, channels, side, side) * (2.0 / 255.0) - 1.0  # crate's pixel scaling
        with torch.no_grad():
            ours = image_features(model, x)
        theirs = torch.from_numpy(np.load(f"{out_dir}/features.npy"))
        what = f"cls+mean features of all {depth} layers for {x.shape[0]} images"
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    rel = ((ours - theirs).abs().max() / theirs.abs().max()).item()
    print(f"strict load of {len(tensors)} tensors; {what}: largest relative difference {rel:.3g}")
    return 0 if rel <= 1e-4 else 1


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main(sys.argv[1], sys.argv[2]))
