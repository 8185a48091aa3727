"""Render the main window on the demo project to docs/screenshots/ (offscreen or under Xvfb).

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py      # or: xvfb-run python ...
    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py --only dashboard \
        [--dashboard-project bench-out/monitoring/loop.nerdesk]

The demo project is built in a temporary folder from resources/demo and pre-annotated by the
default model. If the default model cannot be loaded the script says so and stops, unless
``--fake`` is given (then a labelled stand-in predictor is used: not for the README).

``--only dashboard`` writes the dashboard's tabs alone (dashboard.png, dashboard-drift.png,
dashboard-errors.png, dashboard-monitoring.png). ``--dashboard-project`` shows them on a copy of
another project instead of the demo after a scripted review: the demo has one model version, so
the per-version charts (recurrence, long tail, cost per point) need a project with several, e.g.
the one ``bench/monitoring_loop.py`` leaves; then html-report.png is also written, that project's
``nerdesk report --html`` rendered by a headless chromium (if one is installed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"


def build_demo(path: Path, fake: bool) -> None:
    from nerdesk.core.demo import create_demo_project

    gen = create_demo_project(path, predict=not fake)
    last = None
    for p in gen:
        last = p
    if last and last.message.startswith("no model"):
        print(last.message, file=sys.stderr)
        if not fake:
            sys.exit("the default model is not available; use --fake for a stand-in")
    if fake:
        sys.path.insert(0, str(ROOT / "tests" / "ui"))
        from fakes import add_fake_predictions

        from nerdesk.core.project import Project

        with Project.open(path) as p:
            add_fake_predictions(p, labels=("PER", "ORG", "LOC", "MISC"))


def grab(win, name: str) -> Path:
    from PySide6.QtWidgets import QApplication

    import time

    end = time.monotonic() + 0.3  # let deferred refreshes (inspector, counts) run
    while time.monotonic() < end:
        QApplication.processEvents()
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / name
    win.grab().save(str(out))
    print("wrote", out)
    return out


def wait_for(cond, timeout: float = 60.0) -> None:
    """Run the event loop until ``cond()`` (background jobs: routing, the dashboard...)."""
    import time

    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("a background job did not finish")
        QApplication.processEvents()
        time.sleep(0.01)


def save_dialog(dlg, name: str) -> Path:
    from PySide6.QtWidgets import QApplication

    for _ in range(10):
        QApplication.processEvents()
    out = OUT / name
    dlg.grab().save(str(out))
    print("wrote", out)
    return out


def review_some(win, n: int = 15) -> None:
    """A scripted reviewer, so the dashboard has reviewed work to show: walk the routed queue,
    delete suggestions below 0.5 confidence, accept."""
    s = win.session
    for _ in range(n):
        seg = s.segment()
        if seg is None:
            break
        for sp in list(seg["spans"]):
            if sp.get("confidence") is not None and sp["confidence"] < 0.5:
                s.remove_span(seg["id"], sp["start"], sp["end"], sp["label"])
        if s.accept() is None:
            break


DASHBOARD_TABS = ["dashboard.png", "dashboard-drift.png", "dashboard-errors.png", "dashboard-monitoring.png"]


def dashboard_shots(win) -> None:
    dash = win.show_dashboard()
    wait_for(lambda: dash.job is None and dash.report is not None)
    for i, name in enumerate(DASHBOARD_TABS):
        dash.tabs.setCurrentIndex(i)
        save_dialog(dash, name)
    dash.close()


def copy_project(src: Path, folder: Path) -> Path:
    """A copy to show (opening a project may write to it), with its write-ahead log."""
    dst = folder / src.name
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copy2(f"{src}{suffix}", f"{dst}{suffix}")
    return dst


def html_report_shot(project: Path, folder: Path) -> None:
    """``nerdesk report --html`` of ``project``, rendered by a headless chromium to html-report.png."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("no chromium: html-report.png not written", file=sys.stderr)
        return
    from click.testing import CliRunner

    from nerdesk.cli import cli

    html = folder / "report.html"
    r = CliRunner().invoke(cli, ["report", str(project), "--html", str(html)])
    if r.exit_code != 0:
        sys.exit(r.output)
    out = OUT / "html-report.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={folder / 'chromium'}",
            "--window-size=1200,3100",
            f"--screenshot={out}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    print("wrote", out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fake", action="store_true")
    ap.add_argument("--only", choices=["all", "dashboard"], default="all")
    ap.add_argument(
        "--dashboard-project",
        type=Path,
        default=None,
        help="show the dashboard on a copy of this project instead of the demo",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NERDESK_DATA_DIR"] = tmp
        os.environ.setdefault("NERDESK_USER", "reviewer")
        from PySide6.QtCore import QSettings

        from nerdesk.ui.app import make_app
        from nerdesk.ui.main_window import MainWindow, demo_path

        app = make_app()
        settings = QSettings(str(Path(tmp) / "ui.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings)
        win.resize(1440, 860)
        win.show()
        if args.dashboard_project is not None:
            shown = copy_project(args.dashboard_project.resolve(), Path(tmp))
            if not win.open_project(shown):
                sys.exit(f"cannot open {args.dashboard_project}")
            dashboard_shots(win)
            html_report_shot(shown, Path(tmp))
            if args.only == "dashboard":
                win.close()
                return 0
            win.close_project()
        elif args.only == "dashboard":
            build_demo(demo_path(), args.fake)
            win.open_project(demo_path())
            review_some(win)
            dashboard_shots(win)
            win.close()
            return 0
        grab(win, "welcome.png")
        build_demo(demo_path(), args.fake)
        win.open_project(demo_path())
        s, v = win.session, win.view
        wait_for(lambda: not win.queue.model.routing)  # the blend strategy's list, with reasons
        s.goto(win.queue.model.segment_id(0))
        grab(win, "review.png")
        # a correction. On the demo the model splits "Sir | George Alan Thomas": delete "Sir" and
        # move the start of the name one token left, as a reviewer would (keyboard: Tab, Del,
        # Alt+Shift+Left). Elsewhere, just focus the first span and accept.
        hits = s.project.search('"George Alan Thomas"')
        if hits:  # the segment of the correction below
            doc = s.project.document(hits[0]["doc_id"])
            at = doc["text"].find("George Alan Thomas")
            seg = next((x for x in doc["segments"] if x["start"] <= at < x["end"]), None)
            if seg is not None:
                s.goto(seg["id"])
        v.cycle_focus(1)
        grab(win, "focused-span.png")
        seg = v.current_segment()
        text = v.text
        by_text = {text[sp["start"] : sp["end"]]: sp for sp in seg["spans"]} if seg else {}
        if "Sir" in by_text and "George Alan Thomas" in by_text:
            v.set_focus_span(seg, by_text["Sir"])
            v.delete_focused()
            seg = v.current_segment()
            name = next(sp for sp in seg["spans"] if text[sp["start"] : sp["end"]] == "George Alan Thomas")
            v.set_focus_span(seg, name)
            v.move_boundary("start", -1)
        s.accept(advance=False)
        grab(win, "after-correction.png")
        win.show_keymap()
        for _ in range(5):
            app.processEvents()
        win._keymap.grab().save(str(OUT / "keyboard-shortcuts.png"))
        print("wrote", OUT / "keyboard-shortcuts.png")
        win._keymap.close()
        review_some(win)
        dlg = win.show_auto_accept()
        dlg.slider.setValue(90)
        wait_for(lambda: dlg.counted is not None and dlg.counted[0] == 0.90 and dlg.count_job is None)
        save_dialog(dlg, "auto-accept.png")
        dlg.close()
        if args.dashboard_project is None:
            dashboard_shots(win)
        bundle = win.export_bundle_dialog()
        wait_for(lambda: bundle.job is None and bundle.manifest is not None)
        bundle.table.setCurrentCell(0, 0)
        save_dialog(bundle, "bundle-preview.png")
        bundle.close()
        win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
