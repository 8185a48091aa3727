"""Fine-tune from the app: the offer (corrections since the last fine-tune, audited error rate),
the bundle export, the process with progress and cancel (a fake `nerdesk finetune` with the same
output protocol), and promoting the result."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from fakes import FAKE_MODEL
from nerdesk.core import retrain

HERE = Path(__file__).resolve().parent
FAKE = [sys.executable, str(HERE / "fake_finetune.py")]
MODEL_DIR = HERE.parents[1] / "resources" / "models" / "en-base"


def _wait(qtbot, cond, timeout=30000):
    qtbot.waitUntil(cond, timeout=timeout)
    qtbot.wait(30)


def _accept_with_errors(win, n):
    """Accept n segments, deleting the first suggestion of each: n corrections at least."""
    s = win.session
    for _ in range(n):
        seg = s.segment()
        if seg.spans:
            sp = seg.spans[0]
            s.remove_span(s.current, sp.start, sp.end, sp.label)
        s.accept()


def test_offer_after_n_corrections_then_run_and_promote(opened, qtbot, tmp_path, monkeypatch):
    win = opened
    retrain.configure(win.session.project.store, every=3)
    monkeypatch.setenv("FAKE_FT_MODEL", str(MODEL_DIR))
    args_file = tmp_path / "args.json"
    monkeypatch.setenv("FAKE_FT_ARGS", str(args_file))
    win.finetune.command = FAKE
    assert not win.finetune_offer.isVisible()
    _accept_with_errors(win, 2)
    qtbot.wait(400)
    assert win.finetune.offer == ""
    _accept_with_errors(win, 2)
    _wait(qtbot, lambda: win.finetune_offer.isVisible(), 3000)
    assert "corrections since the last fine-tune" in win.finetune.offer
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    )
    progress = []
    out = tmp_path / "ft-model"
    job = win.finetune.start(out)
    assert not win.finetune_offer.isVisible()
    _wait(qtbot, lambda: job.outcome is not None)
    assert job.outcome == "done"
    _wait(qtbot, lambda: bool(win.finetune.run or win.finetune.last_run))
    run = win.finetune.run or win.finetune.last_run
    _wait(qtbot, lambda: run.outcome is not None)
    progress.append(run.last)
    assert run.outcome == "done", run.outcome
    # the bundle went to the process; progress reached the status bar
    argv = json.loads(args_file.read_text())
    assert argv[0].endswith("corrections.zip") and argv[argv.index("--out") + 1] == str(out)
    assert "--base" not in argv  # the fake model has no directory: the CLI's default model
    assert progress[-1] == (4, 5, "epoch 5")
    assert win.finetune_widget.bar.maximum() == 5
    assert not Path(argv[0]).exists()  # the temporary bundle is removed
    assert asked and "fake-ft 1.0.1" in asked[0] and "0.500 → 0.600" in asked[0]
    assert "base model's own domain: F1 0.650 → 0.640" in asked[0]
    assert "New labels: politician (a kind of PER), election." in asked[0]
    # promoted: the new model is active, its predictions are in the project
    _wait(qtbot, lambda: win.session.project.active_model_id() != FAKE_MODEL, 60000)
    _wait(qtbot, lambda: not win.jobs.jobs, 60000)
    p = win.session.project
    assert p.active_model_id().startswith("en-base")
    assert f"model: {p.active_model_id()}" in win.model_label.text()
    assert not win.finetune_widget.isVisible()
    # the counter restarts: no offer until N more corrections
    assert win.finetune.since_last() == 0
    assert win.finetune.check() == ""


def test_cancel_kills_the_process(opened, qtbot, tmp_path, monkeypatch):
    win = opened
    monkeypatch.setenv("FAKE_FT_MODE", "slow")
    win.finetune.command = FAKE
    _accept_with_errors(win, 1)
    job = win.finetune.start(tmp_path / "never")
    _wait(qtbot, lambda: win.finetune.run is not None and win.finetune.run.last[0] >= 2, 30000)
    run = win.finetune.run
    assert win.finetune_widget.label.text().startswith("Fine-tune: epoch")
    win.finetune_widget.cancel.click()
    _wait(qtbot, lambda: run.outcome is not None, 10000)
    assert run.outcome == "cancelled"
    assert "cancelled" in win.statusBar().currentMessage()
    assert win.finetune.run is None and not win.finetune_widget.isVisible()
    assert job.outcome == "done"
    assert win.session.project.active_model_id() == FAKE_MODEL


def test_coded_error_reaches_the_user(opened, qtbot, tmp_path, monkeypatch, errors_sink):
    win = opened
    monkeypatch.setenv("FAKE_FT_MODE", "fail")
    win.finetune.command = FAKE
    _accept_with_errors(win, 1)
    win.finetune.start(tmp_path / "x")
    _wait(qtbot, lambda: win.finetune.last_run is not None)
    run = win.finetune.last_run
    assert run.outcome == "failed"
    assert errors_sink[-1][0] == "Error E210" and "train" in errors_sink[-1][1]
    assert win.finetune.since_last() > 0  # a failed run does not reset the counter


def test_too_small_asks_and_runs_again_deliberately(opened, qtbot, tmp_path, monkeypatch, errors_sink):
    """E214 (too few segments) becomes a question; declined, nothing runs; confirmed, the same
    fine-tune starts again with --allow-small."""
    win = opened
    monkeypatch.setenv("FAKE_FT_MODE", "small")
    monkeypatch.setenv("FAKE_FT_MODEL", str(MODEL_DIR))
    win.finetune.offer_promote = lambda result: False
    args = tmp_path / "argv.json"
    monkeypatch.setenv("FAKE_FT_ARGS", str(args))
    win.finetune.command = FAKE
    _accept_with_errors(win, 1)
    asked = []
    win.finetune.confirm_small = lambda exc: asked.append(exc.code) or False
    win.finetune.start(tmp_path / "x")
    _wait(qtbot, lambda: win.finetune.last_run is not None)
    assert asked == ["E214"] and win.finetune.last_run.outcome == "failed" and not errors_sink
    first = win.finetune.last_run
    win.finetune.confirm_small = lambda exc: True
    win.finetune.start(tmp_path / "y")
    _wait(qtbot, lambda: win.finetune.last_run not in (None, first) and win.finetune.last_run.allow_small)
    _wait(qtbot, lambda: win.finetune.last_run.outcome is not None)
    assert win.finetune.last_run.outcome == "done"
    assert "--allow-small" in json.loads(args.read_text())


def test_offer_on_audited_error_rate(opened, qtbot, monkeypatch):
    """The upper bound of the audited error rate crossing the threshold offers a fine-tune."""
    from nerdesk.core.autoaccept import audit_estimate, auto_accept

    win = opened
    p = win.session.project
    retrain.configure(win.session.project.store, every=10_000, max_error=0.5)
    auto_accept(p.store, p.identity, 0.0, audit_rate=1.0, seed=1, force=True)
    win.queue.status.setCurrentText("audit")
    win.session.next()
    seg = win.session.segment()
    assert win.session.project.store.segment(win.session.current).status == "audit"
    if seg.spans:  # the model was wrong: delete its suggestion...
        sp = seg.spans[0]
        win.session.remove_span(win.session.current, sp.start, sp.end, sp.label)
    else:  # ...or it missed an entity
        a, b = seg.tokens[0]
        win.session.add_span(win.session.current, a, b, p.label_names()[0])
    win.session.accept()
    est = audit_estimate(p.store)
    assert est["audited"] == 1 and est["high"] > 0.5
    _wait(qtbot, lambda: win.finetune_offer.isVisible(), 3000)
    assert "audited error rate" in win.finetune.offer
    win.finetune_not_now.click()
    assert not win.finetune_offer.isVisible()
    assert win.finetune.check() == ""  # declined until something changes


def test_accurate_model_action_fine_tunes_minilm(opened, qtbot, tmp_path, monkeypatch):
    """Loop › Fine-tune the accurate model: the same process, with --base en-accurate."""
    win = opened
    monkeypatch.setenv("FAKE_FT_MODEL", str(MODEL_DIR))
    args_file = tmp_path / "args.json"
    monkeypatch.setenv("FAKE_FT_ARGS", str(args_file))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.No))
    win.finetune.command = FAKE
    _accept_with_errors(win, 1)
    monkeypatch.setattr(win.finetune, "out_dir", lambda: tmp_path / "acc")
    win.act_finetune_accurate.trigger()
    _wait(qtbot, lambda: win.finetune.last_run is not None and win.finetune.last_run.outcome is not None)
    assert win.finetune.last_run.outcome == "done"
    argv = json.loads(args_file.read_text())
    assert argv[argv.index("--base") + 1] == "en-accurate" and argv[argv.index("--out") + 1] == str(tmp_path / "acc")
