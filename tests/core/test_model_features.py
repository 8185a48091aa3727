"""Features: the fast path (attribute getters + string store) gives exactly a spaCy Lexeme's ids."""

from __future__ import annotations

import numpy as np

from nerdesk.core.model.features import FeatureExtractor
from nerdesk.core.model.package import default_model_path, load_card
from tests.conftest import read_shared


def test_fast_features_equal_lexeme_features():
    card = load_card(default_model_path())
    fe = FeatureExtractor(card.features, base_dir=default_model_path())
    words = ["X", "_", "XIII", "Xo", "А", "’s", "n't", "US$", "😀", "e\u0301", "東京", "שלום", "--", "''"]
    for s in read_shared("train/btc/test.jsonl", 400):
        words += s["tokens"]
    words = list(dict.fromkeys(words))
    got = fe._compute(words)
    vocab = fe._vocab
    attrs = {"NORM": "norm", "PREFIX": "prefix", "SUFFIX": "suffix", "SHAPE": "shape"}
    raw = np.array(
        [
            [
                getattr(vocab[w], attrs[a])
                if a in attrs
                else vocab.strings.add("GAZ=" + fe.gazetteer.get(w.lower(), ""))
                for a in fe.attrs
            ]
            for w in words
        ],
        dtype=np.uint64,
    )
    from nerdesk.core.model.features import _mix

    want = np.empty((len(words), len(fe.attrs) * fe.hashes), dtype=np.int64)
    for j in range(len(fe.attrs)):
        for k in range(fe.hashes):
            want[:, j * fe.hashes + k] = (_mix(raw[:, j], fe.seed * 1000 + j * 16 + k) % fe.rows[j]).astype(np.int64)
    assert np.array_equal(got[:, : want.shape[1]], want)
    if fe.vectors is not None:  # the last column: the lower-cased word's row in the vector table
        assert got.shape[1] == want.shape[1] + 1
        assert got[:, -1].tolist() == [fe.vectors.index.get(w.lower(), 0) for w in words]


def tiny_vectors(tmp_path, words=("paris", "london", "obama", "visited", "the")):
    """A word-vector table as ``python -m nerdesk.train.vectors`` writes it, for a few words."""
    from nerdesk.train.vectors import write_table

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(len(words), 6)).astype(np.float32)
    cfg = write_table(list(words), vecs, tmp_path / "vec")
    return cfg, vecs


def test_vectors_are_int8_per_row_and_looked_up_lower_cased(tmp_path):
    from nerdesk.core.model.features import VectorTable
    from nerdesk.train.vectors import quantize_rows

    pytest_approx = np.testing.assert_allclose
    cfg, vecs = tiny_vectors(tmp_path, words=("paris", "london", "paris", "bad\nword", "the"))
    table = VectorTable(cfg, tmp_path / "vec")
    assert table.q.dtype == np.int8 and table.q.shape == (4, 6)  # row 0 + 3 distinct clean words
    assert table.rows(["Paris", "LONDON", "the", "unknown"]) == [1, 2, 3, 0]
    got = table.lookup(np.array([[1, 0], [3, 2]]))
    assert got.shape == (2, 2, 6) and (got[0, 1] == 0).all()
    # within half a quantisation step of the float vector (the first spelling of "paris" wins)
    pytest_approx(got[0, 0], vecs[0], atol=np.abs(vecs[0]).max() / 254 + 1e-7)
    pytest_approx(got[1, 0], vecs[4], atol=np.abs(vecs[4]).max() / 254 + 1e-7)
    q, scale = quantize_rows(np.zeros((1, 3), np.float32))
    assert (q == 0).all() and scale[0] == 0


def test_vector_ids_column_and_onnx_feed(tmp_path):
    cfg, _ = tiny_vectors(tmp_path)
    config = {
        "type": "spacy-hash",
        "attrs": ["NORM", "SHAPE"],
        "rows": [100, 10],
        "hashes": 2,
        "seed": 1,
        "vectors": {**cfg, "file": str(tmp_path / "vec" / cfg["file"]), "words": str(tmp_path / "vec" / cfg["words"])},
    }
    fe = FeatureExtractor(config)
    assert fe.width == 5  # 2 attributes x 2 hashes + the vector row
    ids, mask = fe.batch([["Obama", "visited", "Paris"], ["nowhere"]])
    assert ids[0, :, -1].tolist() == [3, 4, 1] and ids[1, 0, -1] == 0
    feed = fe.feed(ids, mask)
    assert set(feed) == {"ids", "mask", "vectors"} and feed["vectors"].shape == (2, 3, 6)
    assert feed["vectors"].dtype == np.float32 and (feed["vectors"][1] == 0).all()
    plain = FeatureExtractor({k: v for k, v in config.items() if k != "vectors"})
    assert plain.width == 4 and set(plain.feed(*plain.batch([["a"]]))) == {"ids", "mask"}
    assert np.array_equal(plain(["Obama"]), fe(["Obama"])[:, :4])  # the hashed columns are unchanged
