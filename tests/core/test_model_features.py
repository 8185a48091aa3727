"""Features: the fast path (attribute getters + string store) gives exactly a spaCy Lexeme's ids."""

from __future__ import annotations

import numpy as np

from nerdesk.core.model.features import FeatureExtractor
from nerdesk.core.model.package import default_model_path, load_card
from tests.conftest import read_shared


def test_fast_features_equal_lexeme_features():
    card = load_card(default_model_path())
    fe = FeatureExtractor(card["features"], base_dir=default_model_path())
    words = ["X", "_", "XIII", "Xo", "А", "’s", "n't", "US$", "😀", "e\u0301", "東京", "שלום", "--", "''"]
    for s in read_shared("train/btc/test.jsonl", 400):
        words += s["tokens"]
    words = list(dict.fromkeys(words))
    got = fe._compute(words)
    vocab = fe._vocab
    attrs = {"NORM": "norm", "PREFIX": "prefix", "SUFFIX": "suffix", "SHAPE": "shape"}
    raw = np.array([[getattr(vocab[w], attrs[a]) if a in attrs else
                     vocab.strings.add("GAZ=" + fe.gazetteer.get(w.lower(), "")) for a in fe.attrs]
                    for w in words], dtype=np.uint64)
    from nerdesk.core.model.features import _mix

    want = np.empty_like(got)
    for j in range(len(fe.attrs)):
        for k in range(fe.hashes):
            want[:, j * fe.hashes + k] = (_mix(raw[:, j], fe.seed * 1000 + j * 16 + k) % fe.rows[j]).astype(np.int64)
    assert np.array_equal(got, want)
