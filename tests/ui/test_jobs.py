"""Background jobs (import, predict, demo) with progress and cancel; errors reach the user."""

from __future__ import annotations

import json
import time

from PySide6.QtCore import QTimer

from nerdesk.core.model.card import ModelCard


def _wait_job(qtbot, job, timeout=30000):
    qtbot.waitUntil(lambda: job.outcome is not None, timeout=timeout)
    qtbot.wait(20)  # let the queued result slots run


def test_import_runs_off_thread_with_progress(opened, qtbot, tmp_path):
    win = opened
    f = tmp_path / "more.jsonl"
    f.write_text("\n".join(json.dumps({"text": f"Doc {i}: Marie Curie lived in Warsaw."}) for i in range(300)) + "\n")
    before = win.session.project.stats()["documents"]
    progress = []
    job = win.import_file(f)
    job.progress.connect(lambda d, t, m: progress.append((d, t)))
    assert job.isRunning() or job.isFinished()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(5)  # the UI thread keeps running while the job works
    _wait_job(qtbot, job)
    qtbot.wait(50)
    timer.stop()
    assert job.outcome == "done"
    assert win.session.project.stats()["documents"] == before + 300
    assert ticks
    assert "Imported 300 documents" in win.statusBar().currentMessage()
    assert win.queue.model.canFetchMore() or win.queue.model.rowCount() > 0


def test_cancel_rolls_back(opened, qtbot, tmp_path):
    win = opened
    f = tmp_path / "big.jsonl"
    f.write_text(
        "\n".join(json.dumps({"text": f"Doc {i}: Ada Lovelace met Charles Babbage in London."}) for i in range(30000))
        + "\n"
    )
    before = win.session.project.stats()["documents"]
    job = win.import_file(f)
    with qtbot.waitSignal(job.progress, timeout=30000):
        pass
    # while the import holds the write lock, corrections are refused at once (no freeze)
    sid = win.session.current
    messages = []
    win.session.message.connect(messages.append)
    assert win.session.skip() is None
    assert any("paused" in m for m in messages)
    win.job_widget.cancel.click()
    _wait_job(qtbot, job, 60000)
    assert job.outcome == "cancelled"
    assert win.session.project.stats()["documents"] == before
    qtbot.waitUntil(lambda: win.session.paused is None, timeout=5000)
    assert win.session.project.store.segment(sid).status == "new"
    assert win.session.skip(advance=False) is not None  # and work goes on
    assert "cancelled" in win.statusBar().currentMessage()


def test_import_error_is_coded(opened, qtbot, tmp_path, errors_sink):
    win = opened
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": \n')
    job = win.import_file(bad, "jsonl")
    _wait_job(qtbot, job)
    qtbot.wait(20)
    assert job.outcome == "failed"
    title, message, details = errors_sink[-1]
    assert title.startswith("Error E1"), errors_sink
    assert "bad.jsonl" in message + details


def test_excepthook_shows_unexpected_errors(window, qtbot, errors_sink):
    from nerdesk.ui.errors import install_excepthook, show_error, uninstall_excepthook

    install_excepthook()
    try:

        def boom():
            raise RuntimeError("kaboom")

        QTimer.singleShot(0, boom)
        qtbot.waitUntil(lambda: any("kaboom" in m for _, m, _ in errors_sink), timeout=3000)
    finally:
        uninstall_excepthook()
    title, message, details = next(e for e in errors_sink if "kaboom" in e[1])
    assert title == "Unexpected error" and "Traceback" in details
    from nerdesk.core.errors import Cancelled

    n = len(errors_sink)
    show_error(window, Cancelled())
    assert len(errors_sink) == n  # cancelling is not an error


def test_first_run_offers_demo(window, qtbot, tmp_path):
    win = window
    assert win.stack.currentWidget() is win.welcome
    job = win.open_demo()
    _wait_job(qtbot, job, 120000)
    qtbot.waitUntil(lambda: win.session.project is not None, timeout=5000)
    st = win.session.project.stats()
    assert st["documents"] == 8 and st["segments"] > 40
    assert win.stack.currentWidget() is win.splitter
    assert win.session.current is not None
    assert str(win.session.project.path) in win.recent_projects()[0]


def test_recent_projects_and_error_on_missing(window, project_path, tmp_path, errors_sink):
    win = window
    assert win.open_project(project_path)
    assert win.recent_projects()[0] == str(project_path.resolve())
    assert not win.open_project(tmp_path / "nope.nerdesk")
    assert errors_sink[-1][0] == "Error E001"


class _FakeModel:
    """Enough of a model for project.predict: capitalised tokens are PER."""

    id = "ui-test-model@1"
    labels = ["PER", "ORG", "LOC"]
    card = ModelCard(name="ui-test-model", version="1", labels=labels)

    def predict(self, batch):
        from types import SimpleNamespace

        out = []
        for toks in batch:
            spans = [(i, i + 1, "PER", 0.42) for i, t in enumerate(toks) if i and t[:1].isupper()]
            sc = {"least_confidence": 0.5, "margin": 0.5, "entropy": 0.5, "mnlp": 0.5}
            out.append(SimpleNamespace(spans=spans, scores=sc))
        return out


def test_predict_job_updates_the_view(window, qtbot, tmp_path):
    from fakes import make_project

    path = make_project(tmp_path / "np.nerdesk", ["Alice met Bob in Paris. Carol stayed."], predictions=False)
    assert window.open_project(path)
    assert window.session.segment().spans == []
    job = window.predict(_FakeModel())
    _wait_job(qtbot, job)
    assert job.outcome == "done", job.outcome
    spans = window.session.segment().spans
    assert [(window.view.text[s.start : s.end], s.confidence) for s in spans] == [
        ("Bob", 0.42),
        ("Paris", 0.42),
    ]
    assert "model: ui-test-model@1" in window.model_label.text()


def test_import_dialog_values_and_annotations(opened, qtbot, tmp_path):
    from nerdesk.ui.widgets.import_dialog import ImportDialog

    f = tmp_path / "ann.jsonl"
    f.write_text(
        json.dumps({"text": "Grace Hopper worked at Harvard.", "spans": [{"start": 0, "end": 12, "label": "PER"}]})
        + "\n"
    )
    dlg = ImportDialog(opened)
    qtbot.addWidget(dlg)
    dlg.path.setText(str(f))
    assert "detected: jsonl" in dlg.detected.text()
    dlg.annotations.setChecked(True)
    path, fmt, options = dlg.values()
    assert (path, fmt, options) == (str(f), None, {"annotations": True})
    job = opened.import_file(path, fmt, **options)
    _wait_job(qtbot, job)
    assert job.outcome == "done"
    p = opened.session.project
    hits = p.search("Hopper")
    seg = p.document(hits[0]["doc_id"])["segments"][0]
    assert seg.status == "accepted"
    assert [(s.start, s.end, s.label) for s in seg.spans] == [(0, 12, "PER")]


def test_import_is_pre_annotated_in_the_background(window, qtbot, tmp_path):
    """An import in the app is followed by a pre-annotation with the active model (here none is:
    the default), and the menu names the model it uses."""
    from fakes import make_project

    path = make_project(tmp_path / "pre.nerdesk", ["Ada Lovelace met Charles Babbage in London."], predictions=False)
    assert window.open_project(path)
    f = tmp_path / "more.txt"
    f.write_text("Marie Curie lived in Warsaw .\nAlan Turing worked in Manchester .\n", encoding="utf-8")
    job = window.import_file(f, "text", lines=True)
    _wait_job(qtbot, job)
    p = window.session.project
    qtbot.waitUntil(
        lambda: "Pre-annotated 3 segments with en-base" in window.statusBar().currentMessage(), timeout=30000
    )
    model = p.active_model_id()
    assert model.startswith("en-base")
    assert p.store.count_segments_without_prediction(model) == 0
    window.update_counts()
    assert window.act_predict.text() == f"&Pre-annotate with {model}"
