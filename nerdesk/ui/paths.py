"""Where the app keeps its own files (Qt-free, so any UI module can import it)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """App data (the demo project, fine-tuned models): ``$NERDESK_DATA_DIR`` or platformdirs'
    user data directory."""
    env = os.environ.get("NERDESK_DATA_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("nerdesk", appauthor=False))


def demo_path() -> Path:
    return data_dir() / "demo.nerdesk"
