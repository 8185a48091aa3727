"""The PySide6 desktop app. Widgets call the core only through ``nerdesk.core.project.Project``
(via :class:`nerdesk.ui.session.Session`); no SQL and no domain rules live here."""

from __future__ import annotations
