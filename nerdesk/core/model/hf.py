"""Bring your own model: a Hugging Face token-classification model exported to ONNX (optimum layout).

The directory holds ``model.onnx`` (inputs ``input_ids`` and optionally ``attention_mask`` and
``token_type_ids``; output ``logits`` (batch, pieces, n_tags)), ``config.json`` with ``id2label``
and ``tokenizer.json``. Words are split into word pieces, the first piece of each word speaks for
the word, and the tags are mapped onto nerdesk's BIO order so the same constrained Viterbi,
confidences and uncertainty scores apply. An optional ``nerdesk.json`` may give a ``temperature``.

The tokenizer: the ``tokenizers`` package when it is installed (any tokenizer.json), otherwise a
built-in WordPiece (BERT-style tokenizer.json files) so that no extra dependency is required.

A graph with a third input ``casing_ids`` (what ``nerdesk finetune`` writes for a BERT model: an
uncased vocabulary cannot see capitals) gets each word's shape class (:func:`shape_class`) on its
first piece, ``PAD_SHAPE`` elsewhere. ``nerdesk.json`` may carry ``temperature`` and
``span_calibration`` (fitted by the fine-tune on held-out segments) and the model's card.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nerdesk.core.errors import Errors, err
from nerdesk.core.model.card import ModelCard
from nerdesk.core.model.decode import SegmentPrediction, bio_tags, decode_batch
from nerdesk.core.model.package import sha256_file

NEG = -1e4
N_SHAPES = 6  # lower, Title, CAPS, digit, other; PAD_SHAPE: pieces after the first, [CLS], [SEP], padding
PAD_SHAPE = 5


def shape_class(w: str) -> int:
    """0 lower, 1 Title (or a single capital), 2 CAPS, 3 has a digit, 4 other."""
    if any(c.isdigit() for c in w):
        return 3
    if w.islower():
        return 0
    if w.isupper():
        return 1 if sum(c.isalpha() for c in w) == 1 else 2
    if w[:1].isupper() and w[1:].islower():
        return 1
    return 4


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPiece:
    """BERT WordPiece from a tokenizer.json (BertNormalizer + BertPreTokenizer + WordPiece model)."""

    def __init__(self, tj: dict[str, Any], where: str):
        model = tj.get("model") or {}
        if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
            raise err(
                Errors.E205,
                path=where,
                reason="only WordPiece tokenizers work without the 'tokenizers' package (pip install tokenizers)",
            )
        self.vocab: dict[str, int] = model["vocab"]
        self.unk = model.get("unk_token", "[UNK]")
        self.prefix = model.get("continuing_subword_prefix", "##")
        self.max_chars = int(model.get("max_input_chars_per_word", 100))
        norm = tj.get("normalizer") or {}
        self.lowercase = bool(norm.get("lowercase", False)) if norm.get("type") == "BertNormalizer" else False
        strip = norm.get("strip_accents")
        self.strip_accents = self.lowercase if strip is None else bool(strip)
        self.cls_id = self.vocab.get("[CLS]")
        self.sep_id = self.vocab.get("[SEP]")
        pad = tj.get("padding") or {}
        self.pad_id = int(pad.get("pad_id", self.vocab.get("[PAD]", 0)))
        if self.unk not in self.vocab:
            raise err(Errors.E205, path=where, reason=f"unknown token {self.unk} not in the vocab")
        self._cache: dict[str, list[int]] = {}

    def _normalize(self, text: str) -> str:
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n\r":
                continue
            out.append(f" {ch} " if _is_cjk(cp) else (" " if ch.isspace() else ch))
        text = "".join(out)
        if self.lowercase:
            text = text.lower()
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        return text

    def _pieces(self, chunk: str) -> list[int]:
        if len(chunk) > self.max_chars:
            return [self.vocab[self.unk]]
        ids, start = [], 0
        while start < len(chunk):
            end = len(chunk)
            cur = None
            while start < end:
                sub = chunk[start:end] if start == 0 else self.prefix + chunk[start:end]
                if sub in self.vocab:
                    cur = self.vocab[sub]
                    break
                end -= 1
            if cur is None:
                return [self.vocab[self.unk]]
            ids.append(cur)
            start = end
        return ids

    def word(self, w: str) -> list[int]:
        hit = self._cache.get(w)
        if hit is not None:
            return hit
        ids: list[int] = []
        for part in self._normalize(w).split():
            buf = ""
            for ch in part:
                if _is_punct(ch):
                    if buf:
                        ids += self._pieces(buf)
                        buf = ""
                    ids += self._pieces(ch)
                else:
                    buf += ch
            if buf:
                ids += self._pieces(buf)
        if len(self._cache) < 1_000_000:
            self._cache[w] = ids
        return ids

    def encode_words(self, words: Sequence[str]) -> list[list[int]]:
        return [self.word(w) for w in words]


class _HFTokenizers:
    """The ``tokenizers`` package, when installed: exact for any tokenizer.json."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer  # type: ignore[import-not-found]

        self.tok = Tokenizer.from_file(str(path))
        self.tok.no_padding()
        self.tok.no_truncation()
        vocab = self.tok.get_vocab()
        self.cls_id = vocab.get("[CLS]", vocab.get("<s>"))
        self.sep_id = vocab.get("[SEP]", vocab.get("</s>"))
        self.pad_id = vocab.get("[PAD]", vocab.get("<pad>", 0))
        self.unk_id = vocab.get("[UNK]", vocab.get("<unk>", 0))

    def encode_words(self, words: Sequence[str]) -> list[list[int]]:
        if not words:
            return []
        enc = self.tok.encode(list(words), is_pretokenized=True, add_special_tokens=False)
        out: list[list[int]] = [[] for _ in words]
        for tid, wid in zip(enc.ids, enc.word_ids):
            if wid is not None:
                out[wid].append(tid)
        return out


def _tag_map(id2label: dict[int, str]) -> tuple[list[str], list[int | None]]:
    """nerdesk labels and, per nerdesk BIO tag, the HF output index that feeds it (None: absent)."""
    labels: list[str] = []
    parsed: dict[int, tuple[str, str]] = {}  # HF index -> (B, I or IO; label), ("O", "") for O
    for i, tag in id2label.items():
        t = tag.strip()
        if t.upper() == "O":
            parsed[i] = ("O", "")
            continue
        pre, sep, lab = t.partition("-")
        if sep and pre.upper() in ("B", "I", "S", "E", "L", "U") and lab:
            kind = {"S": "B", "U": "B", "E": "I", "L": "I"}.get(pre.upper(), pre.upper())
        else:
            kind, lab = "IO", t  # a bare label (IO scheme)
        lab = lab.replace("-", "_")
        if lab not in labels:
            labels.append(lab)
        parsed[i] = (kind, lab)
    tags = bio_tags(labels)
    src: list[int | None] = [None] * len(tags)
    for i, (kind, lab) in sorted(parsed.items()):
        if kind == "O":
            src[0] = i if src[0] is None else src[0]
            continue
        j = labels.index(lab)
        for k, want in ((1 + 2 * j, "B"), (2 + 2 * j, "I")):
            if src[k] is None and (kind == want or kind == "IO"):
                src[k] = i
    return labels, src


class HFModel:
    """A Hugging Face token classifier in ONNX, with the same API as OnnxModel."""

    kind = "hf"

    def __init__(self, model_dir: Path, *, threads: int = 1, max_pieces: int = 512, batch_size: int = 32):
        from nerdesk.core.model.onnx_model import make_session

        self.path = Path(model_dir)
        self.max_pieces = max_pieces
        self.batch_size = batch_size
        cfg_path = self.path / "config.json"
        onnx_path = self.path / "model.onnx"
        tok_path = self.path / "tokenizer.json"
        for p in (onnx_path, tok_path):
            if not p.is_file():
                raise err(Errors.E201, path=str(p))
        try:
            config = json.loads(cfg_path.read_text(encoding="utf-8"))
            id2label = {int(k): str(v) for k, v in config["id2label"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise err(Errors.E205, path=str(cfg_path), reason=f"no usable id2label ({exc})") from None
        if sorted(id2label) != list(range(len(id2label))) or not id2label:
            raise err(Errors.E205, path=str(cfg_path), reason="id2label must number 0..n-1")
        self.n_out = len(id2label)
        self.labels, self._src = _tag_map(id2label)
        self.tags = bio_tags(self.labels)
        try:
            tj = json.loads(tok_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise err(Errors.E205, path=str(tok_path), reason=str(exc)) from None
        try:
            self.tokenizer: Any = _HFTokenizers(tok_path)
        except ImportError:
            self.tokenizer = WordPiece(tj, str(tok_path))
        except Exception as exc:  # noqa: BLE001 - tokenizers raises its own exception types
            raise err(Errors.E205, path=str(tok_path), reason=str(exc)) from None
        if self.tokenizer.cls_id is None or self.tokenizer.sep_id is None:
            raise err(Errors.E205, path=str(tok_path), reason="no [CLS]/[SEP] (or <s>/</s>) tokens")
        self.session = make_session(onnx_path, threads)
        ins = {i.name for i in self.session.get_inputs()}
        outs = self.session.get_outputs()
        if "input_ids" not in ins or not ins <= {"input_ids", "attention_mask", "token_type_ids", "casing_ids"}:
            raise err(
                Errors.E203,
                path=str(onnx_path),
                reason=f"expected input_ids[, attention_mask, token_type_ids, casing_ids]; found "
                f"{', '.join(sorted(ins))}",
            )
        self._inputs = ins
        if len(outs[0].shape) != 3:
            raise err(Errors.E203, path=str(onnx_path), reason="the first output must be (batch, pieces, tags)")
        self._out = outs[0].name
        dim = outs[0].shape[2]
        if not isinstance(dim, int):
            dim = self._run([[self.tokenizer.cls_id, self.tokenizer.sep_id]], [[PAD_SHAPE, PAD_SHAPE]]).shape[2]
        if dim != self.n_out:
            raise err(
                Errors.E204, path=str(cfg_path), reason=f"id2label has {self.n_out} tags, the model outputs {dim}"
            )
        extra = self.path / "nerdesk.json"
        meta = json.loads(extra.read_text(encoding="utf-8")) if extra.is_file() else {}
        self.temperature = float(meta.get("temperature", 1.0))
        self.span_calibration = meta.get("span_calibration")
        self.parents: dict[str, str] = dict(meta.get("label_parents") or {})
        name = meta.get("name") or config.get("_name_or_path") or self.path.name
        sha = sha256_file(onnx_path)
        self.card = ModelCard.from_dict(
            {
                **{k: v for k, v in meta.items() if k not in ("temperature", "span_calibration")},
                "format": "hf-onnx",
                "name": str(name).replace("/", "_"),
                "version": str(meta.get("version", "hf")),
                "labels": self.labels,
                "tag_scheme": "BIO",
                "tags": self.tags,
                "temperature": self.temperature,
                "id2label": {str(k): v for k, v in id2label.items()},
                "files": {"model.onnx": {"sha256": sha}},
            }
        )
        self.sha256 = sha
        self.id = f"{self.card.name}@hf+{sha[:8]}"
        self.variant = "fp32"

    def _run(self, rows: list[list[int]], casing: list[list[int]]) -> np.ndarray:
        n = max(len(r) for r in rows)
        ids = np.full((len(rows), n), self.tokenizer.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), n), dtype=np.int64)
        cas = np.full((len(rows), n), PAD_SHAPE, dtype=np.int64)
        for i, (r, c) in enumerate(zip(rows, casing)):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
            cas[i, : len(c)] = c
        feed = {"input_ids": ids}
        if "attention_mask" in self._inputs:
            feed["attention_mask"] = mask
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        if "casing_ids" in self._inputs:
            feed["casing_ids"] = cas
        return self.session.run([self._out], feed)[0]

    def windows(self, words: Sequence[str]) -> list[tuple[int, int, list[int], list[int], list[int]]]:
        """Windows of whole words that fit into max_pieces with [CLS] and [SEP]: (first word,
        end word, piece ids, casing ids, the positions of the words' first pieces)."""
        unk = getattr(self.tokenizer, "unk_id", None)
        if unk is None:
            unk = self.tokenizer.vocab[self.tokenizer.unk]
        pieces = [p or [unk] for p in self.tokenizer.encode_words(words)]
        out = []
        i = 0
        room = self.max_pieces - 2
        while i < len(words):
            row, cas, first = [self.tokenizer.cls_id], [PAD_SHAPE], []
            j = i
            while j < len(words) and (len(row) - 1 + len(pieces[j]) <= room or j == i):
                first.append(len(row))
                pc = pieces[j][:room]
                row += pc
                cas += [shape_class(words[j])] + [PAD_SHAPE] * (len(pc) - 1)
                j += 1
            row.append(self.tokenizer.sep_id)
            cas.append(PAD_SHAPE)
            out.append((i, j, row, cas, first))
            i = j
        return out

    def logits(self, batch: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """(n_words, n_tags) per segment in nerdesk tag order, from each word's first piece; the
        windows of all segments run in length-sorted batches."""
        wins = [(si, w) for si, seg in enumerate(batch) for w in self.windows(list(seg))]
        raw = [np.zeros((len(seg), self.n_out), dtype=np.float32) for seg in batch]
        order = sorted(range(len(wins)), key=lambda k: len(wins[k][1][2]))
        for c in range(0, len(order), self.batch_size):
            part = [wins[k] for k in order[c : c + self.batch_size]]
            lg = self._run([w[2] for _, w in part], [w[3] for _, w in part])
            for r, (si, (s, e, _, _, first)) in enumerate(part):
                raw[si][s:e] = lg[r, first]
        out = []
        for x in raw:
            mapped = np.full((len(x), len(self.tags)), NEG, dtype=np.float32)
            for k, src in enumerate(self._src):
                if src is not None:
                    mapped[:, k] = x[:, src]
            out.append(mapped)
        return out

    def predict(
        self, batch: Sequence[Sequence[str]], *, token_probs: bool = False, only: Sequence[str] | None = None
    ) -> list[SegmentPrediction]:
        """One prediction per segment; ``only``: the labels asked for (see ``decode_batch``)."""
        out: list[SegmentPrediction | None] = [None] * len(batch)
        lgs = self.logits(batch)
        order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
        for c in range(0, len(order), 256):  # decode in padded, length-sorted batches
            idx = order[c : c + 256]
            n = max(1, max(len(batch[i]) for i in idx))
            arr = np.zeros((len(idx), n, len(self.tags)), dtype=np.float32)
            for r, i in enumerate(idx):
                arr[r, : len(batch[i])] = lgs[i]
            preds = decode_batch(
                arr,
                [len(batch[i]) for i in idx],
                self.labels,
                self.temperature,
                keep_probs=token_probs,
                span_calibration=self.span_calibration,
                only=only,
                parents=self.parents,
            )
            for i, pr in zip(idx, preds):
                out[i] = pr
        return out  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<HFModel {self.id} labels={self.labels}>"
