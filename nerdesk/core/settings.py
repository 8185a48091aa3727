"""A project's settings as the services read them from the Store: its name, language, whether spans
may overlap, the labels offered, their severity.

Here rather than on the Project so that every service over the store reads them the same way
without importing the facade (the Project's properties of the same names call these).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nerdesk.core.errors import Errors, err
from nerdesk.core.store import now

if TYPE_CHECKING:
    from nerdesk.core.store import Store


def initialise(store: Store, *, name: str, lang: str, allow_overlaps: bool) -> None:
    """The settings of a new project (one transaction)."""
    with store.transaction():
        store.set_setting("name", name)
        store.set_setting("lang", lang)
        store.set_setting("allow_overlaps", allow_overlaps)
        store.set_setting("created", now())


def project_name(store: Store) -> str:
    return store.get_setting("name", store.path.stem)


def lang(store: Store) -> str:
    return store.get_setting("lang", "en")


def allow_overlaps(store: Store) -> bool:
    return bool(store.get_setting("allow_overlaps", False))


def label_names(store: Store) -> list[str]:
    """The labels offered for annotation (retired and split labels are not)."""
    return [label["name"] for label in store.labels() if label.get("status", "active") == "active"]


def check_label(store: Store, label: str) -> None:
    """E009 unless ``label`` is offered for annotation."""
    names = label_names(store)
    if label not in names:
        raise err(Errors.E009, label=label, labels=", ".join(names) or "(none)")


def severity(store: Store) -> dict[str, str]:
    """Severity per label ('low', 'normal', 'high'); labels not named are 'normal'."""
    return store.get_setting("severity", {})


def guideline_text(store: Store) -> str:
    g = store.guideline()
    return g["text"] if g else ""
