"""The retraining trigger lives in the project: the app, the CLI and the report see one state."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nerdesk.cli import cli
from nerdesk.core import retrain
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, Span, drain
from tests.core.test_honest_scores import _Model


def test_trigger_counts_corrections_since_the_last_fine_tune(tmp_path):
    path = tmp_path / "t.nerdesk"
    with Project.create(path, labels=["PER"], user="r") as p:
        drain(p.import_records([DocRecord(f"Ada met Bob number {i} .") for i in range(4)]))
        drain(p.predict(_Model("m@1")))
        retrain.configure(p.store, every=2, max_error=0.2)
        ids = [sid for sid, _ in p.next_items(10, order="document")]
        for sid in ids[:2]:  # each adds a missed "Bob": one false negative per segment
            p.set_spans(sid, [Span(0, 3, "PER"), Span(8, 11, "PER")])
            p.accept(sid)
        st = retrain.state(p.store)
        assert (st["since_last"], st["every"], st["due"]) == (2, 2, True)
        assert "2 corrections since the last fine-tune" in st["reason"]
        from nerdesk.core.metrics import drift

        assert drift(p.store)["psi"] is None  # four one-document windows: too few segments for a PSI
        retrain.mark_finetuned(p.store)
        assert not retrain.state(p.store)["due"] and retrain.state(p.store)["since_last"] == 0
    r = CliRunner().invoke(cli, ["report", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["retrain"]["every"] == 2
    r = CliRunner().invoke(cli, ["report", str(path)])
    assert "Retraining: 0/2 corrections since the last fine-tune" in r.output


def test_report_html_is_self_contained_with_its_charts(tmp_path):
    path = tmp_path / "h.nerdesk"
    with Project.create(path, labels=["PER"], user="r") as p:
        drain(p.import_records([DocRecord(f"Ada met Bob number {i} .") for i in range(30)]))
        drain(p.predict(_Model("m@1")))
        for sid, _ in p.next_items(25, order="document"):
            p.set_spans(sid, [Span(0, 3, "PER"), Span(8, 11, "PER")])
            p.accept(sid)
        retrain.configure(p.store, every=10)
    out = tmp_path / "r.html"
    r = CliRunner().invoke(cli, ["report", str(path), "--html", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert text.count("<svg") >= 4 and "http" not in text and "<script" not in text  # nothing fetched
    assert "fine-tune due: 25 corrections since the last fine-tune" in text
    assert "Recurring errors" in text and "Reliability" in text and "m@1" in text
