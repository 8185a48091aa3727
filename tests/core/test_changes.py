"""Every operation that returns Changes says what kind it was (ChangeKind), and its undo and redo say
the same kind with their step: the UI matches on the kind, never on the words of ``action``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import nerdesk.core
from nerdesk.core.project import Project
from nerdesk.core.types import ChangeKind, Changes, DocRecord, Span, Step, drain

TEXT = "Angela Merkel visited Paris. Emmanuel Macron met her in Berlin."
K = ChangeKind

#: (where, name) -> (the call, the kind it returns, whether it is one undoable step)
CASES = {
    ("Project", "add_labels"): (lambda c: c.p.add_labels(["MISC"]), K.LABELS, False),
    ("Project", "set_severity"): (lambda c: c.p.set_severity("MISC", "high"), K.LABELS, True),
    ("Project", "add_span"): (lambda c: c.p.add_span(c.s1, 0, 13, "PER"), K.EDIT_SPANS, True),
    ("Project", "relabel_span"): (lambda c: c.p.relabel_span(c.s1, 0, 13, "ORG"), K.EDIT_SPANS, True),
    ("Project", "move_span"): (lambda c: c.p.move_span(c.s1, 0, 13, 7, 13), K.EDIT_SPANS, True),
    ("Project", "remove_span"): (lambda c: c.p.remove_span(c.s1, 7, 13), K.EDIT_SPANS, True),
    ("Project", "set_spans"): (
        lambda c: c.p.set_spans(c.s1, [Span(0, 13, "PER"), Span(22, 27, "LOC")]),
        K.EDIT_SPANS,
        True,
    ),
    ("Project", "accept"): (lambda c: c.p.accept(c.s1), K.ACCEPT, True),
    ("Project", "override_category"): (
        lambda c: c.p.override_category(c.p.corrections()[0]["id"], "boundary", "a test"),
        K.OVERRIDE_CATEGORY,
        False,
    ),
    ("Project", "skip"): (lambda c: c.p.skip(c.s2), K.SKIP, True),
    ("Project", "flag"): (lambda c: c.p.flag(c.s2, "unsure"), K.FLAG, True),
    ("taxonomy", "add_label"): (lambda c: c.p.taxonomy.add_label("GPE"), K.LABELS, True),
    ("taxonomy", "rename_label"): (lambda c: c.p.taxonomy.rename_label("GPE", "GEO"), K.LABELS, True),
    ("taxonomy", "set_parent"): (lambda c: c.p.taxonomy.set_parent("GEO", "LOC"), K.LABELS, True),
    ("taxonomy", "edit_label"): (lambda c: c.p.taxonomy.edit_label("GEO", color="#00aa00"), K.LABELS, True),
    ("taxonomy", "merge_labels"): (lambda c: c.p.taxonomy.merge_labels(["GEO", "LOC"], "LOC"), K.LABELS, True),
    ("taxonomy", "retire_label"): (lambda c: c.p.taxonomy.retire_label("MISC"), K.LABELS, True),
    ("taxonomy", "set_allow_overlaps"): (lambda c: c.p.taxonomy.set_allow_overlaps(True), K.LABELS, True),
    ("taxonomy", "set_guides"): (
        lambda c: c.p.taxonomy.set_guides({"PER": {"definition": "people"}}),
        K.GUIDELINE,
        True,
    ),
    ("taxonomy", "set_guide"): (
        lambda c: c.p.taxonomy.set_guide("PER", {"definition": "a person"}),
        K.GUIDELINE,
        True,
    ),
    ("guideline", "set_fields"): (
        lambda c: c.p.guidelines.set_fields("PER", boundaries="no titles"),
        K.GUIDELINE,
        True,
    ),
    ("guideline", "set_text"): (lambda c: c.p.guidelines.set_text("Mark names."), K.GUIDELINE, True),
    ("guideline", "add_example"): (lambda c: c.p.guidelines.add_example("PER", c.s1, 0, 13), K.GUIDELINE, True),
    ("guideline", "remove_example"): (lambda c: c.p.guidelines.remove_example("PER", 0), K.GUIDELINE, True),
    ("guideline", "from_editable"): (
        lambda c: c.p.guidelines.from_editable(c.p.guidelines.to_editable().replace("Mark names.", "Names.")),
        K.GUIDELINE,
        True,
    ),
    ("review", "remember_identity"): (lambda c: c.p.team.remember_identity("rob", "reviewer"), K.IDENTITY, False),
    ("review", "set_assignment"): (lambda c: c.p.team.set_assignment(["alice", "bob"]), K.ASSIGNMENT, False),
    ("review", "review"): (lambda c: c.p.team.review(c.s2, "alice", "approve"), K.REVIEW, True),
    ("adjudicate", "set_protocol"): (lambda c: c.p.adjudication.set_protocol("highest_tier"), K.PROTOCOL, False),
    ("adjudicate", "apply_protocol"): (lambda c: c.p.adjudication.apply_protocol(), K.ADJUDICATE, True),
    ("adjudicate", "adjudicate"): (lambda c: c.p.adjudication.adjudicate(c.s1, take="alice"), K.ADJUDICATE, True),
    ("taxonomy", "split_label"): (lambda c: c.p.taxonomy.split_label("ORG", ["COMPANY", "CLUB"]), K.LABELS, True),
    ("TermLists", "set_enabled"): (lambda c: c.p.terms.set_enabled("people", False), K.TERMS, False),
    ("TermLists", "remove"): (lambda c: c.p.terms.remove("people"), K.TERMS, False),
}

#: Changes-returning functions reached only through undo and redo (checked there, with every case).
REPLAYS = {
    ("Project", "undo"),
    ("Project", "redo"),
    ("taxonomy", "revert"),
    ("review", "restore"),
    ("adjudicate", "restore"),
}

#: Changes-returning helpers that build the Changes of the operations above (not operations of their own).
BUILDERS = {("edits", "segment_changes")}


def returning_changes() -> set[tuple[str, str]]:
    """The public functions (by module) and methods (by class) in nerdesk.core annotated to return Changes."""
    found = set()
    for info in pkgutil.walk_packages(nerdesk.core.__path__, "nerdesk.core."):
        module = importlib.import_module(info.name)
        owners = [(info.name.rsplit(".", 1)[1], module)]
        owners += [(n, c) for n, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == info.name]
        for where, owner in owners:
            for name, fn in inspect.getmembers(owner, inspect.isfunction):
                if name.startswith("_") or fn.__module__ != info.name:
                    continue
                if inspect.signature(fn).return_annotation in ("Changes", Changes):
                    found.add((where, name))
    return found


def test_every_operation_returning_changes_has_a_case():
    found = returning_changes()
    assert found - set(CASES) - REPLAYS - BUILDERS == set(), "a new operation: give it a ChangeKind and a case here"
    assert set(CASES) | REPLAYS | BUILDERS <= found  # no case for an operation that is gone
    assert len(found) > 30


class Ctx:
    pass


@pytest.fixture
def ctx(tmp_path):
    """rob (reviewer) in a project where alice and bob accepted both segments (they disagree on Paris)
    and a model pre-annotated s1 (so an accept has corrections); a term list of people."""
    c = Ctx()
    path = tmp_path / "p.nerdesk"
    c.p = p = Project.create(path, labels=["PER", "LOC", "ORG"], user="rob", tier="reviewer")
    drain(p.import_records([DocRecord(TEXT, source="news.txt")]))
    c.s1, c.s2 = [s.id for s in p.document(1)["segments"]]
    p.store.register_model("m@1", "m", "1", "", "abc", ["PER", "LOC", "ORG"], {})
    p.store.set_active_model("m@1")
    with p.store.transaction():
        p.store.insert_predictions(
            "m@1",
            [(c.s1, [[0, 13, "PER", 0.9], [22, 27, "PER", 0.5]], 0.5, 0.5, 0.5, 0.5, 0.5), (c.s2, [], 0, 0, 0, 0, 0)],
        )
    for user, city in (("alice", "LOC"), ("bob", "ORG")):
        with Project.open(path, user=user, tier="annotator") as a:
            a.set_spans(c.s1, [Span(0, 13, "PER"), Span(22, 27, city)])
            a.accept(c.s1)
            a.set_spans(c.s2, [Span(29, 44, "PER"), Span(56, 62, "LOC")])
            a.accept(c.s2)
    terms = tmp_path / "people.txt"
    terms.write_text("Angela Merkel\nEmmanuel Macron\n", encoding="utf-8")
    p.terms.add_file(terms, label="PER", name="people")
    yield c
    p.close()


def test_each_operation_its_undo_and_redo_say_their_kind(ctx):
    p = ctx.p
    for (where, name), (call, kind, undoable) in CASES.items():
        steps = len(p._undo)
        changes = call(ctx)
        assert (changes.kind, changes.step) == (kind, Step.DO), (where, name, changes)
        assert changes.action, (where, name)
        assert len(p._undo) == steps + undoable, (where, name, "one undoable step" if undoable else "not undoable")
        if not undoable:
            continue
        done = p.undo_status()[0]
        undone = p.undo()
        assert (undone.kind, undone.step, undone.action) == (kind, Step.UNDO, f"undo {done}"), (where, name)
        redone = p.redo()
        assert (redone.kind, redone.step, redone.action) == (kind, Step.REDO, f"redo {done}"), (where, name)
        if kind in (K.EDIT_SPANS, K.ACCEPT, K.SKIP, K.FLAG, K.REVIEW):
            assert changes.segments and undone.segments == redone.segments == changes.segments, (where, name)


def test_an_undone_merge_of_imported_annotations_is_an_import(project):
    drain(project.import_records([DocRecord(TEXT)]))
    spans = [Span(0, 13, "PER"), Span(22, 27, "LOC")]
    drain(project.import_records([DocRecord(TEXT, spans=spans, annotator="ann")], annotations=True))
    undone = project.undo()
    assert (undone.kind, undone.step, undone.action) == (K.IMPORT, Step.UNDO, "undo merge annotations")
    assert len(undone.segments) == 2 and undone.documents == {1}
    redone = project.redo()
    assert (redone.kind, redone.step) == (K.IMPORT, Step.REDO)


def test_a_kind_is_required():
    with pytest.raises(TypeError):
        Changes(action="accept")  # type: ignore[call-arg]
