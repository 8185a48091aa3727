"""Export correction bundle: the preview shows what leaves the machine; the zip holds exactly it."""

from __future__ import annotations

import json
import zipfile

from test_editing import goto_text


def _wait_job(qtbot, job, timeout=30000):
    qtbot.waitUntil(lambda: job.outcome is not None, timeout=timeout)
    qtbot.wait(30)


def test_bundle_preview_then_write(opened, qtbot, tmp_path):
    from nerdesk.core.bundle import read_bundle

    win, s = opened, opened.session
    start = goto_text(win, "Satya Nadella")
    sid = s.current
    s.add_span(sid, start, start + len("Satya Nadella"), "PER")
    s.accept(advance=False)
    goto_text(win, "The river Thames")
    other = s.current
    s.accept(advance=False)
    win.act_bundle.trigger()
    dlg = win._bundle
    assert dlg.isVisible()
    _wait_job(qtbot, dlg.job)
    qtbot.waitUntil(lambda: dlg.manifest is not None, timeout=5000)
    assert dlg.table.rowCount() == 2
    rows = {dlg.table.item(r, 0).text(): r for r in range(2)}
    r = next(r for t, r in rows.items() if "Satya Nadella" in t)
    assert "'Satya Nadella' PER" in dlg.table.item(r, 1).text()
    assert "Nadella" in dlg.table.item(r, 2).text()  # the model's span was a boundary error
    assert dlg.table.item(r, 3).text() == "tester (annotator)"
    assert "doc1.txt" == dlg.table.item(r, 4).text()
    text = dlg.summary.text()
    assert "<b>2</b> reviewed segments" in text and "tester" in text and "fake-model@1" in text
    dlg.table.setCurrentCell(r, 0)
    raw = json.loads(dlg.raw.toPlainText())
    assert raw["segment_id"] == sid and raw["text"].startswith("Satya Nadella")
    assert dlg.save_button.isEnabled()
    out = tmp_path / "out" / "my-bundle"
    out.parent.mkdir()
    job = dlg.save_to(out)
    _wait_job(qtbot, job)
    assert job.outcome == "done"
    path = out.with_suffix(".zip")
    assert zipfile.is_zipfile(path)
    manifest, lines = read_bundle(path)
    # the zip holds exactly the previewed lines
    assert [(x["segment_id"], x["text"], x["final"], x["errors"]) for x in lines] == [
        (x["segment_id"], x["text"], x["final"], x["errors"]) for x in dlg.lines
    ]
    assert manifest["segments"] == 2 and manifest["annotators"] == ["tester"]
    assert {x["segment_id"] for x in lines} == {sid, other}
    assert "Wrote my-bundle.zip: 2 segments" in win.statusBar().currentMessage()
    assert not dlg.isVisible()


def test_bundle_preview_with_nothing_reviewed(opened, qtbot):
    dlg = opened.export_bundle_dialog()
    _wait_job(qtbot, dlg.job)
    qtbot.waitUntil(lambda: dlg.manifest is not None, timeout=5000)
    assert dlg.table.rowCount() == 0 and not dlg.save_button.isEnabled()
    assert "Nothing to export yet" in dlg.summary.text()
    dlg.close()
