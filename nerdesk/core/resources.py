"""Where nerdesk's shipped resources (models, schemas, the demo) are: one function, imported by every
module that reads them."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """``$NERDESK_RESOURCES``, else ``sys._MEIPASS/resources`` in a bundle, else ``<repo>/resources``."""
    env = os.environ.get("NERDESK_RESOURCES")
    if env:
        return Path(env)
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        return Path(meipass) / "resources"
    import nerdesk

    return Path(nerdesk.__file__).resolve().parent.parent / "resources"
