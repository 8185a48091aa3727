"""A BERT encoder in plain torch (no ``transformers``), and the token classifier nerdesk fine-tunes.

The encoder is Hugging Face's ``BertModel`` without the pooler: word + position + token-type
embeddings and LayerNorm, then post-LayerNorm self-attention and GELU feed-forward layers, with the
checkpoint's own parameter names (``embeddings.*``, ``encoder.layer.N.*``; a ``bert.`` prefix is
accepted), so a ``model.safetensors`` + ``config.json`` of any BERT-family checkpoint loads as it is
(checked against sentence-transformers' behaviour: mean-pooled all-MiniLM-L6-v2 embeddings of a
paraphrase pair have cosine 0.84, unrelated pairs about 0: ``bench/minilm_probe.py``).

The classifier reads each word's first word piece: ``classifier(dropout([hidden, casing]))`` where
``casing`` embeds the word's shape class (lower, Title, CAPS, digits, other): an uncased
vocabulary cannot tell "Bush" from "bush", the casing embedding can. Its outputs are nerdesk's tags
in nerdesk's order (O, B-L1, I-L1, ...), so the same constrained decoder and calibration apply.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nerdesk.core.model.hf import N_SHAPES


class Layer(nn.Module):
    def __init__(self, h: int, heads: int, inter: int, p: float, eps: float):
        super().__init__()
        self.heads = heads
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        self.attention.self.query = nn.Linear(h, h)
        self.attention.self.key = nn.Linear(h, h)
        self.attention.self.value = nn.Linear(h, h)
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(h, h)
        self.attention.output.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(h, inter)
        self.output = nn.Module()
        self.output.dense = nn.Linear(inter, h)
        self.output.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.drop = nn.Dropout(p)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        d = h // self.heads
        sa = self.attention.self

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, d).transpose(1, 2)

        q, k, v = split(sa.query(x)), split(sa.key(x)), split(sa.value(x))
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + bias
        att = self.drop(torch.softmax(att, dim=-1))
        ctx = torch.matmul(att, v).transpose(1, 2).reshape(b, n, h)
        ao = self.attention.output
        x = ao.LayerNorm(x + self.drop(ao.dense(ctx)))
        y = self.output.dense(nn.functional.gelu(self.intermediate.dense(x)))
        return self.output.LayerNorm(x + self.drop(y))


class Bert(nn.Module):
    """HF BertModel's encoder (no pooler), parameter names as in the checkpoint."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        h, eps, p = cfg["hidden_size"], cfg.get("layer_norm_eps", 1e-12), cfg.get("hidden_dropout_prob", 0.1)
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(cfg["vocab_size"], h)
        self.embeddings.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], h)
        self.embeddings.token_type_embeddings = nn.Embedding(cfg.get("type_vocab_size", 2), h)
        self.embeddings.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(
            Layer(h, cfg["num_attention_heads"], cfg["intermediate_size"], p, eps)
            for _ in range(cfg["num_hidden_layers"])
        )
        self.drop = nn.Dropout(p)
        self.hidden = h

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        e = self.embeddings
        pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        x = e.word_embeddings(ids) + e.position_embeddings(pos) + e.token_type_embeddings.weight[0]
        x = self.drop(e.LayerNorm(x))
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x


class TokenClassifier(nn.Module):
    """Encoder + casing embedding + linear layer: logits (batch, pieces, tags)."""

    def __init__(self, bert: Bert, n_tags: int, casing_dim: int = 8, p: float = 0.1):
        super().__init__()
        self.bert = bert
        self.casing = nn.Embedding(N_SHAPES, casing_dim)
        self.drop = nn.Dropout(p)
        self.classifier = nn.Linear(bert.hidden + casing_dim, n_tags)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, casing_ids: torch.Tensor) -> torch.Tensor:
        x = self.bert(input_ids, attention_mask)
        return self.classifier(self.drop(torch.cat([x, self.casing(casing_ids)], dim=-1)))


SUPPORTED = ("bert",)


def read_checkpoint(model_dir: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(config.json, state dict in float32) of a Hugging Face checkpoint directory."""
    from safetensors.torch import load_file

    from nerdesk.core.errors import Errors, err

    cfg_path, weights = model_dir / "config.json", model_dir / "model.safetensors"
    for p in (cfg_path, weights, model_dir / "tokenizer.json"):
        if not p.is_file():
            raise err(Errors.E201, path=str(p))
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise err(Errors.E205, path=str(cfg_path), reason=str(exc)) from None
    if not isinstance(cfg, dict) or cfg.get("model_type") not in SUPPORTED:
        raise err(
            Errors.E205,
            path=str(cfg_path),
            reason=f"fine-tuning supports model_type {', '.join(SUPPORTED)}; found "
            f"{cfg.get('model_type') if isinstance(cfg, dict) else cfg!r}",
        )
    return cfg, dequantize_state(load_file(str(weights)))


QSCALE = ".int8_scale"  # the per-row scale of a weight matrix stored as int8 (see quantize_state)


def quantize_state(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights to store for the next fine-tune: matrices as int8 with one float32 scale per row
    (``name`` + QSCALE), everything else as float16; a quarter of the float32 size (22 MB for
    MiniLM instead of 90). A fine-tune starts from the dequantised values: each weight within
    half a step (row maximum / 254) of the trained one."""
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        v = v.detach().to(torch.float32)
        if v.dim() == 2 and v.numel() >= 4096:
            scale = v.abs().amax(dim=1).clamp(min=1e-12) / 127.0
            out[k] = torch.round(v / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
            out[k + QSCALE] = scale.contiguous()
        else:
            out[k] = v.to(torch.float16).contiguous()
    return out


def dequantize_state(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """float32 weights from a checkpoint (int8 rows with their scales, float16 or float32)."""
    out = {}
    for k, v in sd.items():
        if k.endswith(QSCALE):
            continue
        scale = sd.get(k + QSCALE)
        out[k] = v.to(torch.float32) * scale[:, None] if scale is not None else v.to(torch.float32)
    return out


def build_classifier(
    cfg: dict[str, Any], sd: dict[str, torch.Tensor], n_tags: int, rows_from: list[int | None] | None = None
) -> TokenClassifier:
    """The classifier with the checkpoint's encoder; where the checkpoint has a classifier of its
    own, output row k starts from its row ``rows_from[k]`` (None: a new tag, starting unlikely),
    and its casing embedding is kept."""
    from nerdesk.core.errors import Errors, err

    enc = {
        k.removeprefix("bert."): v
        for k, v in sd.items()
        if not k.startswith(("classifier.", "casing.", "pooler.", "bert.pooler.", "cls."))
        and not k.endswith("position_ids")
    }
    bert = Bert(cfg)
    missing, unexpected = bert.load_state_dict(enc, strict=False)
    if missing or unexpected:
        raise err(
            Errors.E205,
            path="model.safetensors",
            reason=f"not a BERT checkpoint: missing {missing[:3]}, unexpected {unexpected[:3]}",
        )
    casing_dim = int(sd["casing.weight"].shape[1]) if "casing.weight" in sd else 8
    model = TokenClassifier(bert, n_tags, casing_dim)
    with torch.no_grad():
        if "casing.weight" in sd:
            model.casing.weight.copy_(sd["casing.weight"])
        w, b = sd.get("classifier.weight"), sd.get("classifier.bias")
        if w is not None and b is not None and rows_from is not None:
            fresh_bias = float(b.min()) - 1.0
            for k, src in enumerate(rows_from):
                if src is None:
                    model.classifier.bias[k] = fresh_bias
                    continue
                model.classifier.weight[k, : w.shape[1]] = w[src]
                if w.shape[1] < model.classifier.weight.shape[1]:  # a head without casing
                    model.classifier.weight[k, w.shape[1] :] = 0.0
                model.classifier.bias[k] = b[src]
    return model
