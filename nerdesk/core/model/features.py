"""Token strings -> hashed feature ids, the input of the default CNN tagger.

Each token gives spaCy's lexeme attributes NORM (lower-cased form), PREFIX (first character),
SUFFIX (last three characters) and SHAPE ("Xxxx", "dd" ...), taken from a blank English vocab.
spaCy stores every string as a stable 64-bit MurmurHash; each attribute hash is split into
``hashes`` sub-hashes (re-mixed with a per-attribute seed) and reduced modulo the size of that
attribute's embedding table, as in spaCy's ``HashEmbed``. The same code computes the features for
training and inference, so a model card's ``features`` block fully describes the model input.

An optional attribute GAZ looks the lower-cased word up in a name list shipped in the package
(``features.gazetteer``, a ``word<TAB>classes`` file) and hashes the classes it belongs to.

Optional pretrained word vectors (``features.vectors``): a table shipped in the package
(``vectors.npz``: int8 rows ``q`` with a float32 scale per row, row 0 the zero vector for words it
does not hold) and its words (``vectors.words.txt``, one per line, row i + 1), looked up by the
lower-cased word. The vector row is one more id column (the last); :meth:`FeatureExtractor.feed`
turns it into the ``vectors`` input (B, L, dim) float32 of the ONNX graph. The vectors are frozen:
training never changes them, so a fine-tune cannot move what the pretrained words mean.

Results are cached per word string, so a word seen before costs one dict lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

SUPPORTED_ATTRS = ("NORM", "PREFIX", "SUFFIX", "SHAPE", "ORTH", "GAZ")

DEFAULT_FEATURES: dict[str, Any] = {
    "type": "spacy-hash",
    "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
    "rows": [20000, 2000, 8000, 2000],
    "hashes": 2,
    "seed": 1,
}

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(h: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 finaliser over uint64 arrays: a cheap, stable re-hash."""
    with np.errstate(over="ignore"):
        z = (h + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) & 0xFFFFFFFFFFFFFFFF)) & _MASK64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        z = z ^ (z >> np.uint64(31))
    return z


def validate_config(config: dict[str, Any]) -> str | None:
    """Return a reason string if ``config`` is not a usable feature config, else None."""
    if not isinstance(config, dict) or config.get("type") != "spacy-hash":
        return "features.type must be 'spacy-hash'"
    attrs = config.get("attrs")
    rows = config.get("rows")
    if not isinstance(attrs, list) or not attrs or any(a not in SUPPORTED_ATTRS for a in attrs):
        return f"features.attrs must be a non-empty list drawn from {list(SUPPORTED_ATTRS)}"
    if not isinstance(rows, list) or len(rows) != len(attrs) or any(not isinstance(r, int) or r < 1 for r in rows):
        return "features.rows must give a positive table size per attribute"
    if not isinstance(config.get("hashes"), int) or config["hashes"] < 1:
        return "features.hashes must be a positive integer"
    if "GAZ" in attrs and not isinstance(config.get("gazetteer"), str):
        return "features.gazetteer must name the gazetteer file when GAZ is used"
    vec = config.get("vectors")
    if vec is not None and not (
        isinstance(vec, dict)
        and isinstance(vec.get("file"), str)
        and isinstance(vec.get("words"), str)
        and isinstance(vec.get("dim"), int)
        and vec["dim"] > 0
    ):
        return "features.vectors must give file, words and a positive dim"
    return None


def vector_files(config: dict[str, Any]) -> list[str]:
    """The package files a feature config needs besides the ONNX graph (relative names)."""
    out = [config["gazetteer"]] if isinstance(config.get("gazetteer"), str) else []
    vec = config.get("vectors")
    return out + ([vec["file"], vec["words"]] if isinstance(vec, dict) else [])


class VectorTable:
    """Pretrained word vectors from a package: ``row(word)`` and ``lookup(rows)`` (float32)."""

    def __init__(self, config: dict[str, Any], base_dir: str | Path | None):
        def where(name: str) -> Path:
            p = Path(name)
            return p if p.is_absolute() or base_dir is None else Path(base_dir) / p

        with np.load(where(config["file"])) as z:
            self.q = np.ascontiguousarray(z["q"], dtype=np.int8)
            self.scale = np.ascontiguousarray(z["scale"], dtype=np.float32)
        self.dim = int(config["dim"])
        words = where(config["words"]).read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        if self.q.shape != (len(words) + 1, self.dim) or self.scale.shape != (len(words) + 1,):
            raise ValueError(f"{config['file']}: {self.q.shape} rows for {len(words)} words of width {self.dim}")
        self.index = {w: i + 1 for i, w in enumerate(words)}

    def rows(self, words: Sequence[str]) -> list[int]:
        get = self.index.get
        return [get(w.lower(), 0) for w in words]

    def lookup(self, rows: np.ndarray) -> np.ndarray:
        """Dequantised vectors of table rows (any shape) -> shape + (dim,), float32."""
        return self.q[rows].astype(np.float32) * self.scale[rows][..., None]

    def dense(self) -> np.ndarray:
        """The whole table, dequantised (training)."""
        return self.lookup(np.arange(len(self.scale)))


def load_gazetteer(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or "\t" not in line:
                continue
            word, _, classes = line.rstrip("\n").partition("\t")
            out[word] = classes
    return out


class FeatureExtractor:
    """Map tokens to an int64 array of shape (n_tokens, n_attrs * hashes) of embedding rows."""

    MAX_CACHE = 2_000_000

    def __init__(self, config: dict[str, Any] | None = None, base_dir: str | Path | None = None):
        config = dict(DEFAULT_FEATURES if config is None else config)
        reason = validate_config(config)
        if reason:
            raise ValueError(reason)
        self.config = config
        self.attrs: list[str] = list(config["attrs"])
        self.rows = np.asarray(config["rows"], dtype=np.uint64)
        self.hashes = int(config["hashes"])
        self.seed = int(config.get("seed", 1))
        self.vectors: VectorTable | None = VectorTable(config["vectors"], base_dir) if config.get("vectors") else None
        self.width = len(self.attrs) * self.hashes + (1 if self.vectors else 0)
        self.gazetteer: dict[str, str] = {}
        if "GAZ" in self.attrs:
            gp = Path(config["gazetteer"])
            if not gp.is_absolute() and base_dir is not None:
                gp = Path(base_dir) / gp
            self.gazetteer = load_gazetteer(gp)
        from nerdesk.core._spacy import import_spacy  # spaCy without thinc pulling in torch

        spacy = import_spacy()  # heavy import, deferred until a model is really used
        self._vocab = spacy.blank("en").vocab
        self._index: dict[str, int] = {}
        self._table = np.zeros((1024, self.width), dtype=np.int64)

    def _compute(self, words: list[str]) -> np.ndarray:
        # The vocabulary's own attribute getters and string store give exactly the ids a spaCy
        # Lexeme would (symbols such as "X" keep their symbol ids), ~3x faster than building Lexemes.
        from spacy.attrs import NORM, PREFIX, SHAPE, SUFFIX

        vocab = self._vocab
        add = vocab.strings.add
        getters = vocab.lex_attr_getters
        by_name = {"NORM": getters[NORM], "PREFIX": getters[PREFIX], "SUFFIX": getters[SUFFIX], "SHAPE": getters[SHAPE]}
        cols = []
        for a in self.attrs:
            if a == "GAZ":
                gaz = self.gazetteer
                cols.append([add("GAZ=" + gaz.get(w.lower(), "")) for w in words])
            elif a in by_name:
                get = by_name[a]
                cols.append([add(get(w)) for w in words])
            else:
                cols.append([add(w) for w in words])
        raw = np.array(cols, dtype=np.uint64).T.reshape(len(words), len(self.attrs))
        out = np.empty((len(words), self.width), dtype=np.int64)
        for j in range(len(self.attrs)):
            for k in range(self.hashes):
                mixed = _mix(raw[:, j], self.seed * 1000 + j * 16 + k)
                out[:, j * self.hashes + k] = (mixed % self.rows[j]).astype(np.int64)
        if self.vectors is not None:  # the last column: the word's row in the vector table
            out[:, -1] = self.vectors.rows(words)
        return out

    def __call__(self, tokens: Sequence[str]) -> np.ndarray:
        rows = self._rows(tokens)  # first: it may grow the table
        return self._table[rows]

    def _rows(self, tokens: Sequence[str]) -> np.ndarray:
        """The cache rows of ``tokens`` (int64), computing the features of words not seen before."""
        index = self._index
        rows = list(map(index.get, tokens))
        if None in rows:
            missing = [w for w in dict.fromkeys(tokens) if w not in index]
            if len(index) + len(missing) > self.MAX_CACHE:
                index.clear()
                missing = list(dict.fromkeys(tokens))
            feats = self._compute(missing)
            start = len(index)
            need = start + len(missing)
            if need > self._table.shape[0]:
                grown = np.zeros((max(need, 2 * self._table.shape[0]), self.width), dtype=np.int64)
                grown[:start] = self._table[:start]
                self._table = grown
            self._table[start:need] = feats
            index.update(zip(missing, range(start, need)))
            rows = list(map(index.__getitem__, tokens))
        return np.array(rows, dtype=np.int64)

    def batch(self, batch: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Padded ids (B, L, width) and a float32 mask (B, L) for a batch of token lists."""
        lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
        max_len = int(lengths.max(initial=0)) or 1
        live = np.arange(max_len)[None, :] < lengths[:, None]
        ids = np.zeros((len(batch), max_len, self.width), dtype=np.int64)
        flat = [w for toks in batch for w in toks]
        if flat:
            rows = self._rows(flat)  # first: it may grow the table
            ids[live] = self._table[rows]  # row-major order: segment by segment
        return ids, live.astype(np.float32)

    def feed(self, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """The ONNX graph's inputs for a batch: ids and mask, plus ``vectors`` where the
        features have pretrained word vectors (looked up from the ids' last column)."""
        out = {"ids": ids, "mask": mask}
        if self.vectors is not None:
            out["vectors"] = self.vectors.lookup(ids[..., -1])
        return out
