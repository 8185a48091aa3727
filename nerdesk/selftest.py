"""``nerdesk --selftest``: prove an installation (or a PyInstaller bundle) works, then exit 0.

It creates a throw-away project, imports two sentences, pre-annotates them with the default
model, checks that entities were found, and (unless ``--no-ui``) builds the main window
offscreen, makes a correction and undoes it. ``--hold SECONDS`` then keeps the default model
loaded that long, predicting at both ends: onnxruntime's telemetry, were it on, would call home
about 9 s after a session starts, so ``packaging/offline_check.py`` runs ``--selftest --hold 30``
under strace inside a network namespace to prove that nothing tries to.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def core_selftest(out=sys.stdout) -> bool:
    from nerdesk.core.project import Project
    from nerdesk.core.types import DocRecord

    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        p = Project.create(Path(tmp) / "selftest.nerdesk")
        for _ in p.import_records(
            [
                DocRecord("Barack Obama visited Berlin with Angela Merkel in July."),
                DocRecord("Microsoft opened an office in Paris."),
            ]
        ):
            pass
        for _ in p.predict():
            pass
        segments = [seg for d in (1, 2) for seg in p.document(d)["segments"]]
        found = [sp for seg in segments for sp in seg.spans]
        model = p.active_model_id()
        p.close()
    ok = len(found) >= 2
    print(
        f"core: model {model}, {len(found)} entities in {len(segments)} segments, "
        f"{time.perf_counter() - t:.2f} s: {'ok' if ok else 'FAILED'}",
        file=out,
    )
    return ok


def ui_selftest(out=sys.stdout) -> bool:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from nerdesk.ui.app import run

    ok = run(["--selftest"]) == 0
    print(f"ui: {'ok' if ok else 'FAILED'}", file=out)
    return ok


def hold_model(seconds: float, out=sys.stdout) -> bool:
    from nerdesk.core.model import load_model

    words = ["Ada", "Lovelace", "lived", "in", "London"]
    m = load_model(None)
    first = m.predict([words])[0].spans
    time.sleep(seconds)
    ok = bool(first) and m.predict([words])[0].spans == first
    print(f"held the model {seconds:g} s: {'ok' if ok else 'FAILED'}", file=out)
    return ok


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ok = core_selftest()
    if "--no-ui" not in argv:
        ok = ui_selftest() and ok
    if "--hold" in argv:
        ok = hold_model(float(argv[argv.index("--hold") + 1])) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
