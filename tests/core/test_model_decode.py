"""BIO decoding, span confidences, uncertainty scores, evaluation metrics, label maps, features."""

from __future__ import annotations

import numpy as np
import pytest

from nerdesk.core.errors import NerdeskError
from nerdesk.core.model.data import apply_label_map, parse_label_map
from nerdesk.core.model.decode import (
    bio_tags,
    decode_batch,
    fold_target,
    spans_from_bio,
    spans_from_tag_ids,
    viterbi,
)
from nerdesk.core.model.evaluate import ece, score_spans

LABELS = ["PER", "ORG", "LOC"]


def _valid(path, n_labels):
    prev = 0
    for t in path:
        if t >= 2 and t % 2 == 0 and prev not in (t - 1, t):
            return False
        prev = t
    return True


def test_viterbi_never_yields_invalid_sequence():
    rng = np.random.default_rng(0)
    k = len(bio_tags(LABELS))
    logits = rng.normal(size=(64, 12, k)).astype(np.float32) * 4
    logits[:, :, 2::2] += 3.0  # push towards I- tags: an argmax decoder would break BIO often
    lengths = rng.integers(0, 13, size=64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    paths = viterbi(logp, lengths, len(LABELS))
    greedy_invalid = 0
    for b in range(64):
        n = lengths[b]
        assert (paths[b, n:] == -1).all()
        assert _valid(paths[b, :n], len(LABELS))
        greedy_invalid += not _valid(logits[b, :n].argmax(-1), len(LABELS))
    assert greedy_invalid > 10  # the test data really does tempt an unconstrained decoder


def test_viterbi_finds_the_best_valid_path_exhaustively():
    import itertools

    rng = np.random.default_rng(1)
    k = len(bio_tags(["A"]))
    for _ in range(20):
        lg = rng.normal(size=(1, 4, k)).astype(np.float32) * 3
        logp = lg - np.log(np.exp(lg).sum(-1, keepdims=True))
        best = max(
            (p for p in itertools.product(range(k), repeat=4) if _valid(p, 1)),
            key=lambda p: sum(logp[0, i, t] for i, t in enumerate(p)),
        )
        assert tuple(viterbi(logp, np.array([4]), 1)[0]) == best


def test_decode_spans_confidence_and_scores():
    k = len(bio_tags(LABELS))
    lg = np.full((2, 5, k), -5.0, dtype=np.float32)
    lg[:, :, 0] = 5.0
    # segment 0: "B-PER I-PER O B-LOC O" confidently
    lg[0, 0, 1] = lg[0, 1, 2] = lg[0, 3, 5] = 20.0
    # segment 1 (3 tokens): token 1 torn between B-ORG and O
    lg[1, 1, 3] = 5.0
    preds = decode_batch(lg, [5, 3], LABELS, temperature=1.0, keep_probs=True)
    assert [s[:3] for s in preds[0].spans] == [(0, 2, "PER"), (3, 4, "LOC")]
    assert all(0.99 < s[3] <= 1.0 for s in preds[0].spans)
    assert preds[1].token_probs.shape == (3, k)
    for p in preds:
        assert set(p.scores) == {"least_confidence", "margin", "entropy", "mnlp"}
        assert all(0.0 <= v <= 1.0 for v in p.scores.values())
    for key in ("least_confidence", "margin", "entropy", "mnlp"):
        assert preds[1].scores[key] > preds[0].scores[key] + 0.1
    # temperature > 1 lowers confidence
    hot = decode_batch(lg, [5, 3], LABELS, temperature=3.0)
    assert hot[0].spans[0][3] < preds[0].spans[0][3]
    empty = decode_batch(np.zeros((1, 1, k), np.float32), [0], LABELS)[0]
    assert empty.spans == [] and empty.scores["mnlp"] == 0.0


def test_decode_asks_only_for_the_wanted_labels():
    k = len(bio_tags(LABELS))
    lg = np.full((1, 4, k), -5.0, dtype=np.float32)
    lg[:, :, 0] = 5.0
    lg[0, 0, 1] = 20.0  # a confident PER
    lg[0, 2, 3] = 5.5  # a torn ORG
    full = decode_batch(lg, [4], LABELS)[0]
    assert [s[2] for s in full.spans] == ["PER", "ORG"]
    before = lg.copy()
    per_only = decode_batch(lg, [4], LABELS, only=["PER"])[0]
    assert np.array_equal(lg, before)  # the caller's logits are not changed
    assert [s[2] for s in per_only.spans] == ["PER"]
    # the ORG doubt no longer counts: only PER's tags (and O) remain to be uncertain about
    assert per_only.scores["mnlp"] < full.scores["mnlp"] / 10
    assert decode_batch(lg, [4], LABELS, only=[])[0].spans == []
    # a word the model takes for an unwanted label stays untagged: its probability goes to O,
    # it is not pushed into the next-best wanted label (PER here)
    lg[0, 2] = -5.0
    lg[0, 2, 0], lg[0, 2, 1], lg[0, 2, 3] = 5.0, 5.5, 6.0  # O < PER < ORG
    assert [s[:3] for s in decode_batch(lg, [4], LABELS)[0].spans] == [(0, 1, "PER"), (2, 3, "ORG")]
    assert [s[:3] for s in decode_batch(lg, [4], LABELS, only=["PER"])[0].spans] == [(0, 1, "PER")]


def test_an_unwanted_label_counts_as_its_nearest_wanted_ancestor():
    """A fine-tune's ``politician`` (a kind of PER) is PER to a project that asks for PER; a label
    without a wanted ancestor stays O; parent chains are followed, cycles end in O."""
    labels = ["PER", "ORG", "politician", "senator"]
    k = len(bio_tags(labels))
    lg = np.full((1, 3, k), -5.0, dtype=np.float32)
    lg[0, :, 0] = 5.0
    lg[0, 0, 5], lg[0, 1, 6] = 6.0, 6.0  # B-politician I-politician: "Barack Obama"
    lg[0, 0, 1] = 5.5  # PER alone is less likely than O: only with politician's mass does it win
    parents = {"politician": "PER", "senator": "politician"}
    assert [s[:3] for s in decode_batch(lg, [3], labels, only=["PER"])[0].spans] == []
    folded = decode_batch(lg, [3], labels, only=["PER"], parents=parents)[0]
    assert [s[:3] for s in folded.spans] == [(0, 2, "PER")]
    assert decode_batch(lg, [3], labels, parents=parents)[0].spans[0][2] == "politician"  # all asked for
    lg[0, 0, 5], lg[0, 1, 6], lg[0, 0, 7], lg[0, 1, 8] = -5.0, -5.0, 6.0, 6.0  # now a senator
    assert [s[:3] for s in decode_batch(lg, [3], labels, only=["PER"], parents=parents)[0].spans] == [(0, 2, "PER")]
    assert [s[:3] for s in decode_batch(lg, [3], labels, only=["PER", "politician"], parents=parents)[0].spans] == [
        (0, 2, "politician")
    ]
    assert fold_target("senator", {"ORG"}, parents) is None
    assert fold_target("a", {"PER"}, {"a": "b", "b": "a"}) is None


def test_bio_helpers():
    assert spans_from_bio(["B-PER", "I-PER", "O", "I-LOC", "B-ORG", "B-ORG", "I-ORG"]) == [
        (0, 2, "PER"),
        (3, 4, "LOC"),
        (4, 5, "ORG"),
        (5, 7, "ORG"),
    ]
    assert spans_from_tag_ids([1, 2, 0, 5, 3, 3, 4], LABELS) == [
        (0, 2, "PER"),
        (3, 4, "LOC"),
        (4, 5, "ORG"),
        (5, 7, "ORG"),
    ]


def test_training_and_import_read_bioes_alike(tmp_path):
    """One decoder (issue 15): for `B-PER E-PER O S-LOC` the importer found PER and LOC while
    training and evaluation found a one-token PER and lost the LOC."""
    from nerdesk.core.formats._tokens import tags_to_spans
    from nerdesk.core.model.data import read_jsonl

    tags = ["B-PER", "E-PER", "O", "S-LOC", "U-ORG", "B-MISC", "I-MISC", "L-MISC"]
    assert spans_from_bio(tags) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "ORG"), (5, 8, "MISC")]
    offsets = [(i, i + 1) for i in range(len(tags))]
    assert spans_from_bio(tags) == [(s.start, s.end, s.label) for s in tags_to_spans(tags, offsets)]
    p = tmp_path / "d.jsonl"
    p.write_text(
        '{"tokens": ["Ann", "Lee", "in", "Rome"], "tags": ["B-PER", "E-PER", "O", "S-LOC"]}\n'
        '{"tokens": ["x"], "tags": ["Q-PER"]}\n'
    )
    with pytest.raises(NerdeskError) as e:
        list(read_jsonl(p, {}))
    assert e.value.code == "E111" and e.value.line == 2
    assert next(read_jsonl(p, {}, limit=1)).spans == [(0, 2, "PER"), (3, 4, "LOC")]


def test_score_spans_exact_partial_per_label_and_ece():
    gold = [[(0, 2, "PER"), (4, 5, "LOC")], [(1, 3, "ORG")]]
    pred = [[(0, 2, "PER", 0.9), (4, 6, "LOC", 0.6)], [(1, 3, "LOC", 0.5), (5, 6, "ORG", 0.2)]]
    s = score_spans(gold, pred)
    assert s["exact"]["tp"] == 1 and s["exact"]["predicted"] == 4 and s["exact"]["gold"] == 3
    assert s["exact"]["precision"] == pytest.approx(0.25)
    assert s["partial"]["tp"] == pytest.approx(1.5)
    assert s["per_label"]["PER"]["f1"] == 1.0 and s["per_label"]["ORG"]["f1"] == 0.0
    restricted = score_spans(gold, pred, labels=["PER"])
    assert restricted["exact"]["f1"] == 1.0
    assert ece([0.9, 0.9, 0.1], [True, True, False]) == pytest.approx((2 * 0.1 + 0.1) / 3)
    assert ece([1.0, 0.0], [True, False]) == 0.0


def test_label_map():
    m = parse_label_map("person=PER,place=LOC,organization=ORG,organisation=ORG,location=LOC")
    assert apply_label_map([(0, 1, "person"), (1, 2, "abstract"), (2, 3, "organisation")], m) == [
        (0, 1, "PER"),
        (2, 3, "ORG"),
    ]
    assert parse_label_map("default")["place"] == "LOC"
    assert apply_label_map([(0, 1, "x")], parse_label_map("identity")) == [(0, 1, "x")]
    with pytest.raises(NerdeskError) as e:
        parse_label_map("person")
    assert e.value.code == "E209"


def test_features_are_stable_and_cached():
    from nerdesk.core.model.features import FeatureExtractor

    fe = FeatureExtractor()
    a = fe(["Hello", "world", "Hello"])
    assert a.shape == (3, 8) and a.dtype == np.int64
    assert (a[0] == a[2]).all() and not (a[0] == a[1]).all()
    assert (a < np.repeat(fe.rows.astype(np.int64), fe.hashes)).all() and (a >= 0).all()
    fresh = FeatureExtractor()
    assert (fresh(["world", "Hello"]) == a[[1, 0]]).all()
    # "Hello" and "hello" share NORM but not SHAPE/PREFIX
    b = fe(["hello"])[0]
    assert (b[:2] == a[0, :2]).all() and not (b[6:] == a[0, 6:]).all()
    ids, mask = fe.batch([["a", "b"], [], ["c"]])
    assert ids.shape == (3, 2, 8) and mask.tolist() == [[1, 1], [0, 0], [1, 0]]


def test_one_tokenizer_entry_point_that_honours_the_language():
    """Formats tokenise plain text with the same pipeline the importer uses, in the given language
    (French splits the elided article, English the negation)."""
    from nerdesk.core.formats._tokens import tokenize
    from nerdesk.core.tokenize import split_tokens_at, tokenize_texts

    assert tokenize("l'homme", "fr") == [(0, 2), (2, 7)]
    assert tokenize("l'homme", "en") == [(0, 7)]
    assert tokenize("don't", "en") == [(0, 2), (2, 5)]
    assert tokenize("Ada met Bob.", "en") == next(tokenize_texts(["Ada met Bob."], "en"))[0]
    assert split_tokens_at([(0, 7)], [2, 2, 0, 7]) == [(0, 2), (2, 7)]
