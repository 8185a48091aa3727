"""The default architecture: a hash-embedding CNN tagger, as in spaCy's tok2vec + a softmax layer.

Per token, every attribute (NORM, PREFIX, SUFFIX, SHAPE) looks up ``hashes`` rows in its own table
and sums them; the concatenation is projected to ``width``; ``depth`` residual blocks each mix a
window of ``2 * window + 1`` tokens (concatenate shifted copies, Linear, ReLU, LayerNorm); a linear
layer gives one logit per BIO tag. Everything is MatMul/Gather, which quantises well to int8.
The architecture config lives in the model card (``architecture``), weights in safetensors.

With pretrained word vectors (``features.vectors``), each token's vector is concatenated to its
attribute embeddings before the projection. The table is a non-persistent buffer: frozen, never
in the safetensors weights (it ships once, in the package's ``vectors.npz``), and the exported
graph takes the looked-up vectors as an input instead of holding the table.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class HashCNNTagger(nn.Module):
    def __init__(
        self,
        n_tags: int,
        rows: list[int],
        hashes: int,
        emb_width: int = 64,
        width: int = 128,
        depth: int = 4,
        window: int = 1,
        dropout: float = 0.15,
        word_dropout: float = 0.0,
        vec_dim: int = 0,
        **_: Any,
    ):
        super().__init__()
        self.vec_dim = vec_dim
        self.register_buffer("vec_table", torch.zeros((1, vec_dim)), persistent=False)
        self.word_dropout = word_dropout  # training only: hide a token's first attribute (NORM)
        self.hashes = hashes
        self.window = window
        self.embs = nn.ModuleList(nn.Embedding(r, emb_width) for r in rows)
        for e in self.embs:
            nn.init.normal_(e.weight, std=0.1)
        self.proj = nn.Linear(len(rows) * emb_width + vec_dim, width)
        self.norm0 = nn.LayerNorm(width)
        self.mix = nn.ModuleList(nn.Linear((2 * window + 1) * width, width) for _ in range(depth))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth))
        self.out = nn.Linear(width, n_tags)
        self.drop = nn.Dropout(dropout)

    def set_vectors(self, table: torch.Tensor) -> None:
        """The frozen word-vector table (rows, vec_dim); row 0 is the zero vector."""
        assert table.shape[1] == self.vec_dim
        self.vec_table = table.to(torch.float32)

    def embed(self, ids: torch.Tensor, vectors: torch.Tensor | None = None) -> torch.Tensor:
        """Per token, the concatenated attribute embeddings (B, L, attrs * emb_width [+ vec_dim]).

        ``vectors``: the tokens' word vectors, as the exported graph gets them; otherwise they
        are looked up in the table from the ids' last column."""
        parts = []
        h = self.hashes
        keep = None
        for j, emb in enumerate(self.embs):
            v = emb(ids[:, :, j * h])
            for k in range(1, h):
                v = v + emb(ids[:, :, j * h + k])
            if j == 0 and self.training and self.word_dropout > 0:
                keep = (torch.rand(v.shape[:2], device=v.device) >= self.word_dropout).unsqueeze(-1)
                v = v * keep
            parts.append(v)
        if self.vec_dim:
            if vectors is None:
                vectors = self.vec_table[ids[:, :, -1]]
            parts.append(vectors if keep is None else vectors * keep)  # word dropout hides both
        return torch.cat(parts, dim=-1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, vectors: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.embed(ids, vectors), mask)

    def head(self, e: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1)
        x = torch.relu(self.norm0(self.proj(self.drop(e)))) * m
        w = self.window
        for lin, norm in zip(self.mix, self.norms):
            padded = F.pad(x, (0, 0, w, w))
            length = x.shape[1]
            win = torch.cat([padded[:, i : i + length] for i in range(2 * w + 1)], dim=-1)
            x = norm(x + self.drop(torch.relu(lin(win)))) * m
        return self.out(x)


class WithEmbedding(nn.Module):
    """The exported graph: logits, plus each segment's place in the model's feature space.

    The segment embedding is the mean of its tokens' attribute embeddings, centred on the training
    data's mean and projected on its top principal components, whitened (``center``, ``proj``:
    see :func:`fit_embedding_projection`): a few dozen numbers where what sets text apart (topic,
    register, domain) has most of the room. Novelty routing compares these.
    """

    def __init__(self, tagger: HashCNNTagger, center: torch.Tensor, proj: torch.Tensor):
        super().__init__()
        self.tagger = tagger
        self.register_buffer("center", center)
        self.register_buffer("proj", proj)

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor, vectors: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.tagger.embed(ids, vectors)
        m = mask.unsqueeze(-1)
        pooled = (e * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.tagger.head(e, mask), (pooled - self.center) @ self.proj


def pooled_embeddings(tagger: HashCNNTagger, feats: list, batch: int = 256) -> torch.Tensor:
    """Mean token embedding of each segment (feature arrays as FeatureExtractor gives them)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(feats), batch):
            chunk = feats[i : i + batch]
            n = max(len(f) for f in chunk)
            ids = torch.zeros((len(chunk), n, chunk[0].shape[1]), dtype=torch.long)
            mask = torch.zeros((len(chunk), n))
            for j, f in enumerate(chunk):
                ids[j, : len(f)] = torch.from_numpy(f)
                mask[j, : len(f)] = 1.0
            m = mask.unsqueeze(-1)
            out.append((tagger.embed(ids) * m).sum(1) / m.sum(1).clamp(min=1.0))
    return torch.cat(out)


def fit_embedding_projection(pooled: torch.Tensor, dims: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """(center, proj): the mean and the whitened top-``dims`` principal axes of segment embeddings
    (zero columns where fewer segments than ``dims`` leave fewer axes: the width stays ``dims``)."""
    center = pooled.mean(0)
    _, s, vt = torch.linalg.svd(pooled - center, full_matrices=False)
    k = min(dims, int((s > s[0] * 1e-3).sum()))  # never whiten numerical noise
    proj = torch.zeros((pooled.shape[1], dims))
    proj[:, :k] = vt[:k].T / s[:k].clamp(min=1e-6)
    return center, proj


def build_model(n_tags: int, features: dict[str, Any], arch: dict[str, Any], vectors: Any = None) -> HashCNNTagger:
    """The tagger for a feature config and architecture; ``vectors``: the feature config's word
    vector table (a :class:`nerdesk.core.model.features.VectorTable`) where it has one."""
    vec = features.get("vectors")
    model = HashCNNTagger(
        n_tags,
        list(features["rows"]),
        int(features["hashes"]),
        vec_dim=int(vec["dim"]) if vec else 0,
        **{k: v for k, v in arch.items() if k not in ("type", "vec_dim")},
    )
    if vec:
        if vectors is None:
            raise ValueError("this model has word vectors: pass their table")
        model.set_vectors(torch.from_numpy(vectors.dense()))
    return model
