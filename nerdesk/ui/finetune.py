"""Fine-tune from the app: export a correction bundle to a temporary folder, run
``nerdesk finetune BUNDLE --base MODEL --out DIR --progress jsonl`` as a separate process
(torch never enters the app process), show its progress in the status bar with Cancel, and on
success offer to promote the new model.

The offer: when the corrections since the last fine-tune reach N (setting ``finetune/every``,
default 200), or the upper bound of the audited auto-accept error rate crosses a threshold
(setting ``finetune/max_error``, default 0.10).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QTimer, Signal
from nerdesk.ui.widgets.progress import ProgressStrip

from nerdesk.core import retrain
from nerdesk.core.errors import NerdeskError


def default_command() -> list[str]:
    return [sys.executable, "-m", "nerdesk", "finetune"]


def parse_error(stderr: str) -> NerdeskError:
    """``Error: [E###] message`` (the CLI's coded error) or the tail of stderr."""
    import re

    m = None
    for line in reversed(stderr.strip().splitlines()):
        m = re.search(r"\[(E\d{3})\]\s*(.*)", line)
        if m:
            break
    if m:
        return NerdeskError(m.group(1), m.group(2).strip(), details=stderr[-4000:])
    return NerdeskError("E000", "Fine-tuning failed.", details=stderr[-4000:] or "(no output on stderr)")


class FineTuneRun(QObject):
    """One fine-tune process. Signals arrive in the UI thread."""

    progress = Signal(int, int, str)  # done, total (-1 unknown), message
    log = Signal(str)
    succeeded = Signal(object)  # the result object ({"model": OUT_DIR, ...})
    failed = Signal(object)  # a NerdeskError
    cancelled = Signal()
    finished = Signal()

    def __init__(
        self,
        command: list[str],
        bundle: Path,
        out_dir: Path,
        base: str | None,
        workdir: Path,
        parent: QObject | None = None,
        *,
        allow_small: bool = False,
    ):
        super().__init__(parent)
        self.command, self.bundle, self.out_dir, self.base, self.workdir = command, bundle, out_dir, base, workdir
        self.allow_small = allow_small
        self.proc = QProcess(self)
        self.proc.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        self.proc.readyReadStandardOutput.connect(self._stdout)
        self.proc.readyReadStandardError.connect(self._stderr)
        self.proc.finished.connect(self._finished)
        self.proc.errorOccurred.connect(self._error)
        self._buf = b""
        self._err = b""
        self.result: dict[str, Any] | None = None
        self.outcome: str | None = None  # "done" | "failed" | "cancelled"
        self._cancelling = False
        self.last = (0, -1, "Starting the fine-tune")

    def args(self) -> list[str]:
        a = [*self.command[1:], str(self.bundle), "--out", str(self.out_dir), "--progress", "jsonl"]
        if self.base:
            a += ["--base", self.base]
        if self.allow_small:
            a.append("--allow-small")
        return a

    def start(self) -> None:
        self.proc.start(self.command[0], self.args())

    def cancel(self) -> None:
        if self.proc.state() == QProcess.ProcessState.NotRunning:
            return
        self._cancelling = True
        self.proc.terminate()
        QTimer.singleShot(3000, self._kill)

    def _kill(self) -> None:
        if self.proc.state() != QProcess.ProcessState.NotRunning:
            self.proc.kill()

    def _stdout(self) -> None:
        self._buf += bytes(self.proc.readAllStandardOutput())
        *lines, self._buf = self._buf.split(b"\n")
        for raw in lines:
            self._line(raw.decode("utf-8", "replace").strip())

    def _stderr(self) -> None:
        self._err += bytes(self.proc.readAllStandardError())

    def _line(self, line: str) -> None:
        if not line:
            return
        try:
            obj = json.loads(line)
        except ValueError:
            self.log.emit(line)
            return
        if not isinstance(obj, dict):
            return
        if "result" in obj:
            self.result = obj["result"]
        elif "done" in obj:
            total = obj.get("total")
            self.last = (int(obj["done"]), -1 if total is None else int(total), str(obj.get("message") or ""))
            self.progress.emit(*self.last)
        elif "log" in obj:
            self.log.emit(str(obj["log"]))

    def _error(self, err) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self.outcome = "failed"
            self.failed.emit(
                NerdeskError(
                    "E000",
                    f"Could not start the fine-tune process ({self.command[0]}).",
                    details=self.proc.errorString(),
                )
            )
            self._cleanup()
            self.finished.emit()

    def _finished(self, code: int, status) -> None:
        self._stdout()
        if self._buf.strip():
            self._line(self._buf.decode("utf-8", "replace").strip())
            self._buf = b""
        self._stderr()
        if self._cancelling:
            self.outcome = "cancelled"
            self.cancelled.emit()
        elif code == 0 and status == QProcess.ExitStatus.NormalExit and self.result is not None:
            self.outcome = "done"
            self.succeeded.emit(self.result)
        else:
            self.outcome = "failed"
            self.failed.emit(parse_error(self._err.decode("utf-8", "replace")))
        self._cleanup()
        self.finished.emit()

    def _cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


class FineTuneWidget(ProgressStrip):
    """Status-bar progress of a fine-tune run, with Cancel."""

    def __init__(self):
        super().__init__("Cancel fine-tune", "cancelFineTune")
        self.run: FineTuneRun | None = None
        self.setVisible(False)

    def attach(self, run: FineTuneRun | None) -> None:
        self.run = run
        if run is None:
            self.setVisible(False)
            return
        self.cancel.setEnabled(True)
        run.progress.connect(self.show_progress)
        self.cancel.clicked.connect(run.cancel)
        self.show_progress(*run.last)
        self.setVisible(True)

    def show_progress(self, done: int, total: int, message: str) -> None:
        self.label.setText(f"Fine-tune: {message}")
        if total and total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)


class FineTuneController(QObject):
    """Offers fine-tuning, runs it (bundle job, then the process), offers to promote the result."""

    offerChanged = Signal(str)  # why fine-tuning is offered ("" when it is not)

    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.command = default_command()
        self.run: FineTuneRun | None = None
        self.last_run: FineTuneRun | None = None
        self.bundle_job = None
        self.offer = ""
        self.declined_at: int | None = None

    # ------------------------------------------------------------------ the trigger (in the project: nerdesk.core.retrain)
    @property
    def every(self) -> int:
        p = self.win.session.project
        return retrain.settings(p.store)["every"] if p else retrain.DEFAULT_EVERY

    @property
    def max_error(self) -> float:
        p = self.win.session.project
        return retrain.settings(p.store)["max_error"] if p else retrain.DEFAULT_MAX_ERROR

    def corrections_total(self) -> int:
        p = self.win.session.project
        return retrain.corrections_total(p.store) if p else 0

    def since_last(self) -> int:
        p = self.win.session.project
        return retrain.state(p.store)["since_last"] if p else 0

    # ------------------------------------------------------------------ the offer
    def check(self) -> str:
        """Whether to offer a fine-tune now; updates ``offer`` (a reason, or "")."""
        p = self.win.session.project
        reason = ""
        if p is not None and self.run is None and self.bundle_job is None:
            st = retrain.state(p.store)
            if st["due"] and self.declined_at != st["corrections"]:
                reason = st["reason"]
        if reason != self.offer:
            self.offer = reason
            self.offerChanged.emit(reason)
        return reason

    def decline(self) -> None:
        self.declined_at = self.corrections_total()
        self.offer = ""
        self.offerChanged.emit("")

    # ------------------------------------------------------------------ running
    def base_model(self) -> str | None:
        """The active model's directory, if it is one (else the CLI's default model)."""
        p = self.win.session.project
        if p is None:
            return None
        active = p.active_model_id()
        for m in p.store.models():
            if m["id"] == active and m["path"] and Path(m["path"]).is_dir():
                return m["path"]
        return None

    def out_dir(self) -> Path:
        from nerdesk.ui.paths import data_dir

        p = self.win.session.project
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return data_dir() / "models" / f"{p.name}-ft-{stamp}"

    def start(self, out_dir: str | Path | None = None, base: str | None = None, *, allow_small: bool = False):
        """Export the bundle (a job), then start the process. Returns the bundle job. ``base``: the
        model to fine-tune (default: the active model; "en-accurate": the shipped accurate model).
        Refused as too small (E214), the user is asked, and may start it again with ``allow_small``."""
        from nerdesk.ui.widgets.bundle_dialog import write_factory

        p = self.win.session.project
        if p is None or self.run is not None or self.bundle_job is not None:
            return None
        self.offer = ""
        self.offerChanged.emit("")
        workdir = Path(tempfile.mkdtemp(prefix="nerdesk-ft-"))
        bundle = workdir / "corrections.zip"
        out = Path(out_dir) if out_dir else self.out_dir()
        out.parent.mkdir(parents=True, exist_ok=True)
        at = self.corrections_total()

        def exported(manifest):
            if not manifest["segments"]:
                shutil.rmtree(workdir, ignore_errors=True)
                self.win.statusBar().showMessage("Nothing to fine-tune on: no accepted segments yet.", 8000)
                return
            self._launch(bundle, out, workdir, at, base, allow_small)

        def finished():
            self.bundle_job = None

        self.bundle_job = self.win.run_job(
            "Exporting the bundle for fine-tuning",
            write_factory(p.path, bundle),
            on_done=exported,
            on_finished=finished,
        )
        return self.bundle_job

    def _launch(
        self, bundle: Path, out: Path, workdir: Path, at: int, base: str | None = None, allow_small: bool = False
    ) -> None:
        from nerdesk.ui.errors import show_error

        def failed(exc) -> None:
            if exc.code == "E214" and not allow_small:
                if self.confirm_small(exc):  # again, deliberately, once this run has finished
                    QTimer.singleShot(0, lambda: self.start(out, base, allow_small=True))
                return
            show_error(self.win, exc)

        run = self.run = FineTuneRun(
            self.command, bundle, out, base or self.base_model(), workdir, self, allow_small=allow_small
        )
        run.log.connect(lambda m: self.win.statusBar().showMessage(f"Fine-tune: {m}", 5000))
        run.succeeded.connect(lambda res: (self._finetuned(at), self.offer_promote(res)))
        run.failed.connect(failed)
        run.cancelled.connect(lambda: self.win.statusBar().showMessage("Fine-tune cancelled.", 8000))
        run.finished.connect(self._run_finished)
        self.win.finetune_widget.attach(run)
        run.start()

    def _finetuned(self, at: int) -> None:
        p = self.win.session.project
        if p is not None:
            retrain.mark_finetuned(p.store, at)

    def _run_finished(self) -> None:
        self.win.finetune_widget.attach(None)
        self.last_run, self.run = self.run, None

    def cancel(self) -> None:
        if self.run is not None:
            self.run.cancel()

    def confirm_small(self, exc) -> bool:  # tests replace this (a modal box blocks)
        from PySide6.QtWidgets import QMessageBox

        return (
            QMessageBox.question(
                self.win,
                "Fine-tune on so little?",
                f"{exc.message}\n\nA model fine-tuned on so few corrections mostly memorises them. Fine-tune anyway?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            == QMessageBox.StandardButton.Yes
        )

    def offer_promote(self, result: dict) -> bool:
        from PySide6.QtWidgets import QMessageBox

        model = result.get("model")
        name = " ".join(str(result.get(k, "")) for k in ("name", "version")).strip() or Path(model).name
        ho = result.get("held_out") or {}
        extra = ""
        if ho.get("before") and ho.get("after"):
            extra = f"\nHeld-out F1: {ho['before']['f1']:.3f} → {ho['after']['f1']:.3f}."
        fg = result.get("forgetting") or {}
        if fg.get("before") is not None:
            extra += (
                f"\nOn held-out data of the base model's own domain: F1 {fg['before']:.3f} → "
                f"{fg['after']:.3f} (what it may have forgotten)."
            )
        new = result.get("new_labels") or {}
        if new:
            extra += (
                "\nNew labels: " + ", ".join(f"{lab} (a kind of {p})" if p else lab for lab, p in new.items()) + "."
            )
            if any(new.values()):
                extra += " A project without such a label gets its entities as the broader one."
        self.win.statusBar().showMessage(f"Fine-tuned model written to {model}.", 10000)
        ans = QMessageBox.question(
            self.win,
            "Fine-tune finished",
            f"The new model {name} is ready.{extra}\n\nPromote it now? It becomes the "
            "active model and predicts every segment (you can roll back).",
        )
        if ans == QMessageBox.StandardButton.Yes:
            self.win.promote_model(model)
            return True
        return False
