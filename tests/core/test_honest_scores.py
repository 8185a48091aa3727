"""Honest scores (issue 14): a model is never scored on the segments it was fine-tuned on, and no
version is called the best on too few segments or within the intervals' noise."""

from __future__ import annotations

import json

from nerdesk.core.metrics import best_model, f1_interval, model_quality, segment_hash, trained_segments
from nerdesk.core.model.card import ModelCard
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, Span, drain


class _Model:
    """Predicts 'Ada' as PER wherever it is."""

    def __init__(self, mid: str):
        self.id, self.labels = mid, ["PER"]
        self.card = ModelCard(name=mid, version="1", labels=self.labels)

    def predict(self, batch, **_):
        from types import SimpleNamespace

        return [
            SimpleNamespace(
                spans=[(i, i + 1, "PER", 0.9) for i, t in enumerate(toks) if t == "Ada"],
                scores=dict.fromkeys(["least_confidence", "margin", "entropy", "mnlp"], 0.1),
            )
            for toks in batch
        ]


def test_trained_on_segments_are_left_out_of_a_models_score(tmp_path):
    texts = [f"Ada met Bob number {i} ." for i in range(6)]
    with Project.create(tmp_path / "p.nerdesk", labels=["PER"], user="r") as p:
        drain(p.import_records([DocRecord(t) for t in texts]))
        m = _Model("m@1")
        drain(p.predict(m))
        for sid, _ in p.next_items(10, order="document"):
            p.set_spans(sid, [Span(0, 3, "PER"), Span(8, 11, "PER")])
            p.accept(sid)
        assert model_quality(p.store, "m@1")["reviewed_segments"] == 6
        # a card naming 4 of the segments as trained on: scored on the 2 others only
        card = {"name": "m", "trained_segments": trained_segments((), texts[:4])}
        p.store.conn.execute("UPDATE models SET card = ? WHERE id = ?", (json.dumps(card), "m@1"))
        q = model_quality(p.store, "m@1")
        assert q["reviewed_segments"] == 2 and q["trained_on_left_out"] == 4
        assert q["exact"]["recall"] == 0.5
        # long tail: "ada" and "bob" were seen 4 times each in training (< 5): every unseen span is in it
        lt = q["long_tail"]
        assert (lt["surface_spans"], lt["surface_recall"]) == (4, 0.5)
        assert lt["rare_labels"] == [] and lt["label_spans"] == 0  # PER: 8 training spans


def test_trained_segments_accumulate_over_fine_tunes():
    first = trained_segments((), ["a", "b"])
    second = trained_segments(first, ["c"])
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

            return [
                SimpleNamespace(
                    spans=[(i, i + 1, "PER", 0.9) for i, t in enumerate(toks) if t in ("Ada", "Bob")],
                    scores=dict.fromkeys(["least_confidence", "margin", "entropy", "mnlp"], 0.1),
                )
                for toks in batch
            ]

    with Project.create(tmp_path / "c.nerdesk", labels=["PER"], user="r") as p:
        drain(p.import_records([DocRecord("Ada met Bob .")]))
        drain(p.predict(_Model("m@1")))
        sid = p.next_items(1, order="document")[0][0]
        p.set_spans(sid, [Span(0, 3, "PER"), Span(8, 11, "PER")])
        p.accept(sid)
        before = [(c["category"], c["model_id"]) for c in p.corrections()]
        effort = p.error_report()["effort"]
        assert before == [("false_negative", "m@1")]
        drain(promote(p.store, p.identity, _Better("m@2")))
        assert p.active_model_id() == "m@2"
        assert [(c["category"], c["model_id"]) for c in p.corrections()] == before
        assert p.error_report()["effort"] == effort


class _Both(_Model):
    """Predicts 'Ada' and 'Bob' as PER; its card names ``trained`` as its training segments."""

    def __init__(self, mid: str, trained: list[str]):
        super().__init__(mid)
        self.card = ModelCard(name=mid, version="1", labels=self.labels, trained_segments=trained_segments((), trained))

    def predict(self, batch, **_):
        from types import SimpleNamespace

        return [
            SimpleNamespace(
                spans=[(i, i + 1, "PER", 0.9) for i, t in enumerate(toks) if t in ("Ada", "Bob")],
                scores=dict.fromkeys(["least_confidence", "margin", "entropy", "mnlp"], 0.1),
            )
            for toks in batch
        ]


def _cost_project(tmp_path, name, easy, hard, trained):
    """``easy`` segments with Ada only (m@1 finds it), then ``hard`` ones with Ada and Bob (m@1 misses
    Bob); all reviewed against m@1, then m@2 (finds both) promoted, trained on the first ``trained``."""
    from nerdesk.core.versions import promote

    texts = [f"Ada slept {i} ." for i in range(easy)] + [f"Ada met Bob number {i} ." for i in range(hard)]
    p = Project.create(tmp_path / name, labels=["PER"], user="r")
    drain(p.import_records([DocRecord(t) for t in texts]))
    drain(p.predict(_Model("m@1")))
    for k, (sid, _) in enumerate(p.next_items(len(texts), order="document")):
        p.set_spans(sid, [Span(0, 3, "PER")] + ([Span(8, 11, "PER")] if k >= easy else []))
        p.accept(sid)
    drain(promote(p.store, p.identity, _Both("m@2", texts[:trained])))
    return p


def test_cost_per_point_compares_both_versions_on_the_segments_neither_trained_on(tmp_path):
    """m@1's own score (all 40 segments: 10 easy ones it gets right) and m@2's (the 30 hard ones
    it did not train on) are on different sets: 0.727 → 1.0 would read as a 27-point gain. On the
    30 segments neither trained on, m@1 scores 0.667: 33.3 points."""
    from nerdesk.core.metrics import MIN_COST_SEGMENTS, report

    with _cost_project(tmp_path, "c.nerdesk", easy=10, hard=30, trained=10) as p:
        rep = report(p.store)
        own = {m["id"]: (m["reviewed_segments"], round(m["exact"]["f1"], 3)) for m in rep["models"]}
        assert own == {"m@1": (40, 0.727), "m@2": (30, 1.0)}
        (c,) = rep["cost_per_point"]
        assert (c["from"], c["to"], c["segments"]) == ("m@1", "m@2", 30) and 30 >= MIN_COST_SEGMENTS
        assert round(c["f1_from"], 3) == 0.667 and c["f1_to"] == 1.0
        assert round(c["f1_points"], 1) == 33.3 and c["reason"] is None
        assert c["actions"] > 0 and c["actions_per_point"] == c["actions"] / c["f1_points"]
    # the same figure, with its segment count, in `report`, --json and the HTML report
    from click.testing import CliRunner

    from nerdesk.cli import cli

    r = CliRunner().invoke(cli, ["report", str(tmp_path / "c.nerdesk"), "--html", str(tmp_path / "c.html")])
    assert r.exit_code == 0, r.output
    assert "m@1 -> m@2: " in r.output and "30 shared segments, F1 0.667 -> 1.000 (+33.3 points)" in r.output
    html = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert "<td>30</td><td>0.667\u00a0→\u00a01.000</td><td>+33.3</td>" in html
    r = CliRunner().invoke(cli, ["report", str(tmp_path / "c.nerdesk"), "--json"])
    (j,) = json.loads(r.output)["cost_per_point"]
    assert j["segments"] == 30 and round(j["f1_points"], 1) == 33.3


def test_no_cost_per_point_on_too_few_shared_segments(tmp_path):
    from nerdesk.core.metrics import MIN_COST_SEGMENTS, report

    with _cost_project(tmp_path, "few.nerdesk", easy=10, hard=30, trained=25) as p:
        (c,) = report(p.store)["cost_per_point"]
        assert c["segments"] == 15 < MIN_COST_SEGMENTS
        assert c["f1_points"] is None and c["actions_per_point"] is None
        assert c["reason"] == f"15 reviewed segment(s) neither trained on ({MIN_COST_SEGMENTS} needed)"
    from click.testing import CliRunner

    from nerdesk.cli import cli

    r = CliRunner().invoke(cli, ["report", str(tmp_path / "few.nerdesk")])
    assert r.exit_code == 0, r.output
    assert "15 shared segments: no figure: 15 reviewed segment(s) neither trained on (20 needed)" in r.output
