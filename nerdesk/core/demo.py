"""The demo project: a small bundled corpus, pre-annotated by the default model.

``create_demo_project(path)`` is a generator (like import and predict) so the app can run it
off the UI thread with progress and cancel; it returns the project path. Without a usable
default model the demo is still created, just without suggestions (the last Progress says so).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from nerdesk.core.errors import NerdeskError
from nerdesk.core.types import Progress

DEMO_LABELS = ["PER", "ORG", "LOC", "MISC"]


def demo_dir() -> Path:
    from nerdesk.core.resources import resources_dir

    return resources_dir() / "demo"


def demo_files() -> list[Path]:
    return sorted(demo_dir().glob("*.txt"))


def create_demo_project(path: str | Path, *, model=None, predict: bool = True) -> Generator[Progress, None, Path]:
    """Made with the services over the store, as ``Project.create`` then ``import_file`` and ``predict``
    would (the facade is above this module), acting as whoever opening the project would act as."""
    from nerdesk.core import labels, settings
    from nerdesk.core.importer import import_file
    from nerdesk.core.predict import predict_project
    from nerdesk.core.review import resolve_identity
    from nerdesk.core.store import Store

    path = Path(path)
    files = demo_files()
    total = len(files) + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(path, create=True)
    ok = False
    try:
        settings.initialise(store, name="nerdesk demo", lang="en", allow_overlaps=False)
        actor = resolve_identity(store)
        store.acting_tier = actor.tier
        with store.transaction():
            labels.add_labels(store, actor, DEMO_LABELS)
        for i, f in enumerate(files):
            yield Progress(i, total, f"importing {f.name}")
            yield from _drain(import_file(store, actor, f, "text"), i, total, f"importing {f.name}")
        if predict:
            yield Progress(len(files), total, "pre-annotating with the default model")
            try:
                yield from _drain(predict_project(store, actor, model), len(files), total, "pre-annotating")
            except NerdeskError as exc:  # no model shipped (yet): a demo without suggestions
                yield Progress(total, total, f"no model suggestions: {exc}")
        yield Progress(total, total, "done")
        ok = True
    finally:
        store.close()
        if not ok:  # cancelled or failed: leave nothing half-made
            for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
                p.unlink(missing_ok=True)
    return path


def _drain(gen: Generator[Progress, None, object], done: int, total: int, what: str) -> Generator[Progress, None, None]:
    """Run a core generator as one step of ours; a close() (cancel) reaches it and rolls it back."""
    try:
        while True:
            p = next(gen)
            detail = f" {p.done}/{p.total}" if p.total else ""
            yield Progress(done, total, f"{what}{detail}")
    except StopIteration:
        return
    finally:
        gen.close()
