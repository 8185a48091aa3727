"""Honest scores (issue 14): a model is never scored on the segments it was fine-tuned on, and no
version is called the best on too few segments or within the intervals' noise."""

from __future__ import annotations

import json

from nerdesk.core.metrics import best_model, f1_interval, model_quality, segment_hash, trained_segments
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, Span, drain


class _Model:
    """Predicts 'Ada' as PER wherever it is."""

    def __init__(self, mid: str):
        self.id, self.labels, self.card = mid, ["PER"], {"name": mid}

    def predict(self, batch, **_):
        from types import SimpleNamespace

        return [SimpleNamespace(spans=[(i, i + 1, "PER", 0.9) for i, t in enumerate(toks) if t == "Ada"],
                                scores=dict.fromkeys(["least_confidence", "margin", "entropy", "mnlp"], 0.1))
                for toks in batch]


def test_trained_on_segments_are_left_out_of_a_models_score(tmp_path):
    texts = [f"Ada met Bob number {i} ." for i in range(6)]
    with Project.create(tmp_path / "p.nerdesk", labels=["PER"], user="r") as p:
        drain(p.import_records([DocRecord(t) for t in texts]))
        m = _Model("m@1")
        drain(p.predict(m))
        for sid, _ in p.next_items(10, order="document"):
            p.set_spans(sid, [Span(0, 3, "PER"), Span(8, 11, "PER")])
            p.accept(sid)
        assert model_quality(p, "m@1")["reviewed_segments"] == 6
        # a card naming 4 of the segments as trained on: scored on the 2 others only
        card = {"name": "m", "trained_segments": trained_segments({}, texts[:4])}
        p.store.conn.execute("UPDATE models SET card = ? WHERE id = ?", (json.dumps(card), "m@1"))
        q = model_quality(p, "m@1")
        assert q["reviewed_segments"] == 2 and q["trained_on_left_out"] == 4
        assert q["exact"]["recall"] == 0.5
        # long tail: "ada" and "bob" were seen 4 times each in training (< 5): every unseen span is in it
        lt = q["long_tail"]
        assert (lt["surface_spans"], lt["surface_recall"]) == (4, 0.5)
        assert lt["rare_labels"] == [] and lt["label_spans"] == 0  # PER: 8 training spans


def test_trained_segments_accumulate_over_fine_tunes():
    first = trained_segments({}, ["a", "b"])
    second = trained_segments({"trained_segments": first}, ["c"])
    assert set(second) == {segment_hash(x) for x in "abc"}


def test_no_best_version_on_few_segments_or_overlapping_intervals():
    def version(mid, f1, n, ci):
        return {"model_id": mid, "exact": {"f1": f1}, "reviewed_segments": n, "f1_interval": ci}

    assert best_model([version("a", 1.0, 1, (1.0, 1.0)), version("b", 0.5, 1, (0.5, 0.5))]) is None
    assert best_model([version("a", 0.70, 80, (0.6, 0.8)), version("b", 0.65, 80, (0.55, 0.75))]) is None
    assert best_model([version("a", 0.80, 80, (0.75, 0.85)), version("b", 0.5, 80, (0.4, 0.6))])["model_id"] == "a"
    assert best_model([version("a", 0.80, 80, (0.75, 0.85)), version("b", 0.0, 0, None)]) is None
    golds = [[(0, 1, "PER")]] * 50 + [[(0, 1, "PER")]] * 50
    preds = [[(0, 1, "PER", 0.9)]] * 50 + [[]] * 50
    lo, hi = f1_interval(golds, preds)
    assert lo < 0.667 < hi and hi - lo < 0.3


def test_error_categories_stay_measured_against_the_pre_annotating_model(tmp_path):
    """A promote later does not re-measure what a human corrected: the categories and effort keep the
    model that pre-annotated the segment when it was reviewed."""
    from nerdesk.core.versions import promote

    class _Better(_Model):
        def predict(self, batch, **_):
            from types import SimpleNamespace

            return [SimpleNamespace(spans=[(i, i + 1, "PER", 0.9) for i, t in enumerate(toks) if t in ("Ada", "Bob")],
                                    scores=dict.fromkeys(["least_confidence", "margin", "entropy", "mnlp"], 0.1))
                    for toks in batch]

    with Project.create(tmp_path / "c.nerdesk", labels=["PER"], user="r") as p:
        drain(p.import_records([DocRecord("Ada met Bob .")]))
        drain(p.predict(_Model("m@1")))
        sid = p.next_items(1, order="document")[0][0]
        p.set_spans(sid, [Span(0, 3, "PER"), Span(8, 11, "PER")])
        p.accept(sid)
        before = [(c["category"], c["model_id"]) for c in p.corrections()]
        effort = p.error_report()["effort"]
        assert before == [("false_negative", "m@1")]
        drain(promote(p, _Better("m@2")))
        assert p.active_model_id() == "m@2"
        assert [(c["category"], c["model_id"]) for c in p.corrections()] == before
        assert p.error_report()["effort"] == effort
