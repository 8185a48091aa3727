"""Model versions: promote predicts and activates, rollback is instant, compare and report score
each version on reviewed segments. Two small gazetteer models stand in for trained ones."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from nerdesk.cli import cli
from nerdesk.core.errors import NerdeskError
from nerdesk.core.metrics import psi, report
from nerdesk.core.model.decode import SegmentPrediction
from nerdesk.core.model.card import ModelCard
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, drain
from nerdesk.core.versions import compare, history, promote, rollback


class Gazetteer:
    """Tags single tokens found in a word list; confidence fixed per model."""

    def __init__(self, name, words, confidence):
        self.id = f"{name}@1"
        self.labels = ["PER", "LOC"]
        self.card = ModelCard(name=name, version="1", labels=self.labels)
        self.words = words
        self.confidence = confidence

    def predict(self, batch):
        out = []
        for toks in batch:
            spans = [(i, i + 1, self.words[t], self.confidence) for i, t in enumerate(toks) if t in self.words]
            u = 1 - self.confidence if spans else 0.05
            out.append(SegmentPrediction(spans, {"least_confidence": u, "margin": u, "entropy": u, "mnlp": u}))
        return out


TEXTS = ["Anna lives in Rome .", "Marco visited Paris .", "Anna and Marco met in Oslo .", "Nothing here ."]


def test_promote_rollback_compare_report(tmp_path):
    p = Project.create(tmp_path / "v.nerdesk", labels=["PER", "LOC"])
    drain(p.import_records([DocRecord(t) for t in TEXTS]))
    weak = Gazetteer("weak", {"Anna": "PER", "Rome": "LOC", "Paris": "PER"}, 0.6)
    strong = Gazetteer("strong", {"Anna": "PER", "Marco": "PER", "Rome": "LOC", "Paris": "LOC", "Oslo": "LOC"}, 0.9)
    assert drain(promote(p.store, p.identity, weak)) == "weak@1"
    assert p.active_model_id() == "weak@1"
    # a human reviews every segment to the truth
    truth = {"Anna": "PER", "Marco": "PER", "Rome": "LOC", "Paris": "LOC", "Oslo": "LOC"}
    for seg_id, _ in p.next_items(10, order="document"):
        seg = p.segment(seg_id)
        for a, b in seg.tokens:
            w = seg.text[a - seg.start : b - seg.start]
            shown = {(s.start, s.end): s.label for s in p.segment(seg_id).spans}
            if w in truth and shown.get((a, b)) != truth[w]:
                if (a, b) in shown:
                    p.relabel_span(seg_id, a, b, truth[w])
                else:
                    p.add_span(seg_id, a, b, truth[w])
        p.accept(seg_id)
    errors = p.error_report()
    assert errors["per_category"] == {"label": 1, "false_negative": 3}
    assert drain(promote(p.store, p.identity, strong)) == "strong@1"
    assert history(p.store) == ["weak@1", "strong@1"]
    rows = {r["id"]: r for r in compare(p.store)}
    assert rows["strong@1"]["f1"] == pytest.approx(1.0) and rows["strong@1"]["active"]
    assert rows["weak@1"]["f1"] < 0.6
    assert rollback(p.store, p.identity) == "weak@1" and p.active_model_id() == "weak@1"
    with pytest.raises(NerdeskError) as e:
        rollback(p.store, p.identity)
    assert e.value.code == "E015"
    r = report(p.store)
    assert {m["id"] for m in r["models"]} == {"weak@1", "strong@1"}
    strong_q = next(m for m in r["models"] if m["id"] == "strong@1")
    assert strong_q["reliability"][9]["n"] == 7 and strong_q["reliability"][9]["accuracy"] == 1.0
    assert r["errors"]["missed_surface_forms"][0]["label"] in ("PER", "LOC")
    path = p.path
    p.close()
    out = CliRunner().invoke(cli, ["versions", str(path)])
    assert out.exit_code == 0 and "strong@1" in out.output and "weak@1" in out.output
    out = CliRunner().invoke(cli, ["report", str(path)])
    assert out.exit_code == 0 and "Model versions" in out.output
    out = CliRunner().invoke(cli, ["errors", str(path), "--json"])
    assert out.exit_code == 0 and '"false_negative": 3' in out.output


def test_psi_detects_a_shift():
    same = [i / 100 for i in range(100)]
    shifted = [0.5 + i / 200 for i in range(100)]
    assert psi(same, same) == pytest.approx(0.0, abs=1e-9)
    assert psi(same, shifted) > 0.2
