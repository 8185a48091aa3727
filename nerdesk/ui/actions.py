"""The main window's menus as one table, :data:`MENUS`: each entry's text, what it calls, its keys and
its row in Help › Keyboard shortcuts.

A key is written once. A window key (Ctrl+I, Ctrl+Z, F1, ...) is a :class:`Command`'s ``keys``: the
entry's ``QAction`` takes it anywhere in the window, the F1 help lists it, and the span editor, which
sees the key first when the window is not active (no window manager), passes it on to that action
(:meth:`~nerdesk.ui.widgets.document_view.DocumentView.keyPressEvent`). A key of the span editor
itself (Enter, S, Tab, ...) is a row of :data:`~nerdesk.ui.widgets.document_view.KEYS`; a menu entry
for it names that row (``view``) and only shows its keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from nerdesk.ui.widgets.document_view import KEYS

Std = QKeySequence.StandardKey


@dataclass(frozen=True)
class Command:
    """One menu entry. ``slot``: what it calls, a MainWindow method or one of its parts'
    (``"session.undo"``); a ``checkable`` entry's slot gets the new state. ``keys``: its window
    shortcuts (the first is shown in the menu); ``does``: its F1 help row (else the menu text).
    ``view``: the ``keys`` of the KEYS row that is its key in the span editor. ``name``: the
    QAction's objectName; ``attr``: the MainWindow attribute that keeps it, for code that enables,
    renames or checks it; ``needs_project``: enabled only while a project is open."""

    text: str
    slot: str
    keys: tuple[str | QKeySequence.StandardKey, ...] = ()
    does: str = ""
    view: str = ""
    name: str = ""
    attr: str = ""
    needs_project: bool = False
    checkable: bool = False
    tip: str = ""

    def sequences(self) -> list[QKeySequence]:
        """The keys as this platform binds them: a standard key may have none (Quit on Windows, or
        the offscreen platform)."""
        return [s for s in map(QKeySequence, self.keys) if not s.isEmpty()]

    def keys_text(self) -> str:
        """The keys as the help and the menu show them ("Ctrl+Shift+Z / Ctrl+Y")."""
        return " / ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in self.sequences())

    def help_text(self) -> str:
        return self.does or self.text.replace("&", "").rstrip("…")


SEPARATOR = "-"
RECENT = "recent"  # the File › Open recent submenu (MainWindow.recent_menu)

#: The menu bar, menu by menu: Commands, separators and the recent-projects submenu.
MENUS: tuple[tuple[str, tuple[Command | str, ...]], ...] = (
    (
        "&File",
        (
            Command("&New project…", "new_project_dialog", (Std.New,), "New project"),
            Command("&Open project…", "open_project_dialog", (Std.Open,), "Open a project"),
            RECENT,
            Command("Open the &demo project", "open_demo"),
            SEPARATOR,
            Command(
                "&Import file…", "import_dialog", ("Ctrl+I",), "Import a file", attr="act_import", needs_project=True
            ),
            Command("&Pre-annotate with the active model", "preannotate", attr="act_predict", needs_project=True),
            Command(
                "Add a &term list…",
                "add_term_list_dialog",
                name="addTermListAction",
                attr="act_add_terms",
                needs_project=True,
            ),
            Command("Term &lists…", "show_term_lists", name="termListsAction", attr="act_terms", needs_project=True),
            Command(
                "&Export correction bundle…",
                "export_bundle_dialog",
                name="exportBundleAction",
                attr="act_bundle",
                needs_project=True,
            ),
            SEPARATOR,
            Command("&Close project", "close_project", ("Ctrl+W",)),
            Command("&Quit", "close", (Std.Quit,)),
        ),
    ),
    (
        "&Edit",
        (
            Command("&Undo", "session.undo", ("Ctrl+Z",), "Undo (survives a restart)", name="undo", attr="act_undo"),
            Command("&Redo", "session.redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", name="redo", attr="act_redo"),
            Command("&Find…", "focus_search", ("Ctrl+F",), "Search the project's documents"),
        ),
    ),
    (
        "&Review",
        (
            Command("&Accept segment", "session.accept", view="Enter"),
            Command("&Skip segment", "session.skip", view="S"),
            Command("&Flag for escalation…", "view.flag_dialog", view="F"),
            SEPARATOR,
            Command("&Next item", "session.next", view="Space / N"),
            Command("&Previous item", "session.previous", view="P"),
            SEPARATOR,
            Command("&Delete span", "view.delete_focused", view="Del / Backspace"),
            Command("&Relabel span…", "view.relabel_menu", view="R"),
            Command("Next span", "view.next_span", view="Tab"),
            Command("Previous span", "view.previous_span", view="Shift+Tab"),
        ),
    ),
    (
        "&Loop",
        (
            Command(
                "&Auto-accept confident segments…",
                "show_auto_accept",
                name="autoAcceptAction",
                attr="act_auto",
                needs_project=True,
            ),
            Command(
                "&Corrections by error category…",
                "show_corrections",
                name="correctionsAction",
                attr="act_corrections",
                needs_project=True,
            ),
            Command(
                "&Dashboard and model versions…",
                "show_dashboard",
                ("Ctrl+D",),
                "Dashboard: quality per model version, calibration, drift, errors, effort",
                name="dashboardAction",
                attr="act_dashboard",
                needs_project=True,
            ),
            SEPARATOR,
            Command(
                "&Fine-tune on the corrections now",
                "finetune.start",
                name="fineTuneAction",
                attr="act_finetune",
                needs_project=True,
            ),
            Command(
                "Fine-tune the &accurate model (en-accurate) on the corrections",
                "finetune_accurate",
                name="fineTuneAccurateAction",
                attr="act_finetune_accurate",
                needs_project=True,
                tip="A BERT tagger (MiniLM): about 8 points more F1 after 200 corrections, 15 times slower "
                "to predict, minutes to train",
            ),
            Command("Fine-tune &settings…", "finetune_settings_dialog", attr="act_finetune_settings"),
        ),
    ),
    (
        "&Team",
        (
            Command("&Who am I…", "show_user_dialog", name="whoamiAction", attr="act_whoami", needs_project=True),
            Command(
                "My tier's &queue…",
                "show_tier_queue",
                ("Ctrl+Shift+Q",),
                "Review: my tier's queue",
                name="tierQueueAction",
                attr="act_tier_queue",
                needs_project=True,
            ),
            Command(
                "&Adjudicate conflicts…",
                "show_adjudication",
                ("Ctrl+Shift+J",),
                "Adjudicate conflicts between annotators",
                name="adjudicateAction",
                attr="act_adjudicate",
                needs_project=True,
            ),
            Command(
                "Agreement and error &profiles…",
                "show_team_report",
                name="teamReportAction",
                attr="act_team_report",
                needs_project=True,
            ),
        ),
    ),
    (
        "La&bels",
        (
            Command(
                "&Manage labels…",
                "show_labels",
                ("Ctrl+L",),
                "Labels: add, rename, merge, split, retire, colour, key, severity",
                name="labelsAction",
                attr="act_labels",
            ),
            Command(
                "&Guideline…",
                "show_guideline",
                ("Ctrl+G",),
                "The guideline: every label's definition, rules and examples, and its history",
                name="guidelineAction",
                attr="act_guideline",
            ),
            Command(
                "Show the focused span's guideline and &examples",
                "view.show_examples",
                ("F2",),
                "The focused span's label: its definition, rules and examples, beside the span",
                name="examplesAction",
                attr="act_examples",
            ),
            Command(
                "Review &stale work (annotated under an older definition)",
                "show_stale",
                name="staleQueueAction",
                attr="act_stale",
            ),
        ),
    ),
    (
        "&View",
        (
            Command(
                "Label &names on spans",
                "set_tags",
                ("Ctrl+T",),
                "Label names on spans (tags) on or off",
                name="tagsAction",
                attr="act_tags",
                checkable=True,
            ),
            Command(
                "&Colour-blind-safe colours",
                "set_colour_blind",
                name="colourBlindAction",
                attr="act_cb",
                checkable=True,
            ),
            Command("&Dark theme", "set_dark", name="darkAction", attr="act_dark", checkable=True),
            SEPARATOR,
            Command("&Larger text", "larger_text", ("Ctrl+=",), name="largerTextAction"),
            Command("&Smaller text", "smaller_text", ("Ctrl+-",), name="smallerTextAction"),
            Command("&Default text size", "default_text_size", ("Ctrl+0",)),
        ),
    ),
    (
        "&Help",
        (
            Command("&Keyboard shortcuts", "show_keymap", ("F1",), "This list"),
            Command("&About nerdesk", "about"),
        ),
    ),
)


def commands() -> list[Command]:
    """Every Command of the menus, in menu order."""
    return [c for _, entries in MENUS for c in entries if isinstance(c, Command)]


def help_rows() -> list[tuple[str, str]]:
    """Help › Keyboard shortcuts: (keys, what they do): the span editor's rows (KEYS), then every
    window key in menu order."""
    return [(b.keys, b.does) for b in KEYS] + [(c.keys_text(), c.help_text()) for c in commands() if c.sequences()]


def _slot(win: QMainWindow, path: str) -> Callable[..., Any]:
    fn: Callable[..., Any] = reduce(getattr, path.split("."), win)
    return fn


def build(win: QMainWindow) -> list[QAction]:
    """Fill the window's menu bar (of the MainWindow: the slots are its methods' names) from :data:`MENUS`; returns the actions that need a project open.
    Keyed actions are added to the window too, so their keys work wherever the focus is in it."""
    needs_project = []
    view_keys = {b.keys for b in KEYS}
    for title, entries in MENUS:
        menu = win.menuBar().addMenu(title)
        for c in entries:
            if c == SEPARATOR:
                menu.addSeparator()
                continue
            if c == RECENT:
                win.recent_menu = menu.addMenu("Open &recent")
                continue
            assert isinstance(c, Command)
            if c.view and c.view not in view_keys:
                raise ValueError(f"{c.text!r}: no row of KEYS has the keys {c.view!r}")
            act = QAction(f"{c.text}\t{c.view}" if c.view else c.text, win)
            if c.name:
                act.setObjectName(c.name)
            if c.sequences():
                act.setShortcuts(c.sequences())
                act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
                win.addAction(act)
            if c.tip:
                act.setStatusTip(c.tip)
            slot = _slot(win, c.slot)
            if c.checkable:
                act.setCheckable(True)
                act.triggered.connect(lambda checked, slot=slot: slot(checked))
            else:
                act.triggered.connect(lambda _=False, slot=slot: slot())
            menu.addAction(act)
            if c.attr:
                setattr(win, c.attr, act)
            if c.needs_project:
                needs_project.append(act)
    return needs_project
