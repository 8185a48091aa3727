"""Labels managed in the app, the guideline editor, the swallow guard, readable spans (issue 17):
driven through the real widgets, checked in the database; contrast computed; screenshots looked at."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QPushButton

from fakes import TEXTS, make_project
from test_editing import db_spans, goto_text, point, select


def label_rows(p):
    return p.store.conn.execute("SELECT * FROM labels ORDER BY name").fetchall()


def test_labels_dialog_manages_labels_after_creation_and_undo_takes_each_change_back(opened, qtbot, monkeypatch):
    win = opened
    p = win.session.project
    before = label_rows(p)
    dlg = win.show_labels()
    qtbot.waitExposed(dlg)
    assert dlg.table.rowCount() == 3
    # add
    assert dlg.add("DATE")
    assert "DATE" in p.label_names() and win.palette.button("DATE") is not None
    # rename: edit the name cell
    row = dlg.row_of("PER")
    dlg.table.item(row, 0).setText("PERSON")
    assert "PERSON" in p.label_names() and "PER" not in p.label_names()
    assert win.palette.button("PERSON") is not None and "PERSON" in win.view.colors
    assert all(sp.label != "PER" for seg in win.session.doc["segments"] for sp in seg.spans)
    # colour (the colour dialog answered), key, description, severity
    monkeypatch.setattr(dlg, "choose_color", lambda current: "#112233")
    qtbot.mouseClick(dlg.table.cellWidget(dlg.row_of("DATE"), 1), Qt.MouseButton.LeftButton)
    dlg.table.item(dlg.row_of("DATE"), 2).setText("d")
    dlg.table.item(dlg.row_of("DATE"), 3).setText("A calendar date")
    dlg.table.cellWidget(dlg.row_of("DATE"), 4).setCurrentText("high")
    lab = {x["name"]: x for x in p.labels()}["DATE"]
    assert (lab["color"], lab["shortcut"], lab["description"]) == ("#112233", "d", "A calendar date")
    assert p.severity()["DATE"] == "high"
    assert "A calendar date" in win.palette.button("DATE").toolTip()  # the palette shows the definition
    # overlaps
    dlg.overlaps.setChecked(True)
    assert p.allow_overlaps
    # merge and split through the buttons (their questions answered)
    answers = iter(["ORG,LOC", "PLACE_ORG"])
    monkeypatch.setattr(dlg, "ask", lambda *a, **k: next(answers))
    qtbot.mouseClick(dlg.findChild(QPushButton, "mergeLabels"), Qt.MouseButton.LeftButton)
    assert "PLACE_ORG" in p.label_names() and not {"ORG", "LOC"} & set(p.label_names())
    dlg.table.selectRow(dlg.row_of("PLACE_ORG"))
    answers = iter(["ORG,LOC"])
    qtbot.mouseClick(dlg.findChild(QPushButton, "splitLabel"), Qt.MouseButton.LeftButton)
    # (the active model is asked first, in the background: this fake one has no package, so the
    # split uses its stored predictions)
    qtbot.waitUntil(lambda: "ORG" in p.label_names(), timeout=10000)
    assert {"ORG", "LOC"} <= set(p.label_names()) and "PLACE_ORG" not in p.label_names()
    assert dlg.table.item(dlg.row_of("PLACE_ORG"), 5).text() == "split"
    # retire the selected label
    dlg.table.selectRow(dlg.row_of("DATE"))
    qtbot.mouseClick(dlg.findChild(QPushButton, "retireLabel"), Qt.MouseButton.LeftButton)
    assert "DATE" not in p.label_names() and win.palette.button("DATE") is None
    # every change is one undoable step (Ctrl+Z in the main window)
    n = 0
    while label_rows(p) != before:
        qtbot.keyClick(win.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        n += 1
        assert n <= 10
    assert n == 10  # add, rename, colour, key, description, severity, overlaps, merge, split, retire
    assert not p.allow_overlaps and p.severity() == {}
    assert win.palette.button("PER") is not None and win.palette.button("DATE") is None


def test_bad_input_in_the_dialog_is_a_coded_error_that_changes_nothing(opened, errors_sink):
    win = opened
    p = win.session.project
    before = label_rows(p)
    dlg = win.show_labels()
    dlg.table.item(dlg.row_of("PER"), 0).setText("ORG")  # a name in use
    dlg.table.item(dlg.row_of("LOC"), 2).setText("1")  # PER's key
    assert [t for t, _, _ in errors_sink] == ["Error E422", "Error E427"]
    assert label_rows(p) == before
    assert dlg.table.item(dlg.row_of("PER"), 0).text() == "PER"  # the table shows the truth again


def test_guideline_editor_fields_examples_history_and_the_definition_where_you_annotate(opened, qtbot):
    win, view = opened, opened.view
    p = win.session.project
    v0 = p.guideline()["version"]
    ed = win.show_guideline("PER")
    qtbot.waitExposed(ed)
    assert ed.labels.currentItem().text() == "PER"
    box = ed.fields["definition"]
    box.setFocus()
    qtbot.keyClicks(box, "A named person")
    qtbot.keyClicks(ed.fields["boundaries"], "Titles are outside")
    qtbot.keyClicks(ed.summary, "PER defined")
    qtbot.mouseClick(ed.findChild(QPushButton, "saveGuideline"), Qt.MouseButton.LeftButton)
    assert p.guideline()["version"] == v0 + 1 and p.guidelines.versions()[-1]["summary"] == "PER defined"
    assert p.guidelines.guide("PER")["boundaries"] == "Titles are outside"
    # the palette and the inspector show the definition
    assert "A named person" in win.palette.button("PER").toolTip()
    start = goto_text(win, "Olaf Scholz")
    select(view, start, start + len("Olaf Scholz"))
    qtbot.keyClick(view, Qt.Key.Key_1)  # PER
    view.set_focus_span(view.current_segment(), next(sp for sp in view.current_segment().spans if sp.start == start))
    win.inspector.refresh_now()
    assert "A named person" in win.inspector.body.toPlainText()
    # one click: the focused span becomes an example; F2 shows it beside the span
    qtbot.mouseClick(ed.findChild(QPushButton, "addExample"), Qt.MouseButton.LeftButton)
    ex = p.guidelines.guide("PER")["positive"]
    assert [e["text"] for e in ex] == ["Olaf Scholz"] and ed.positive.count() == 1
    shown = view.show_examples()
    assert "Olaf Scholz" in shown and "A named person" in shown
    # the history: each version, and what changed in the chosen one
    assert ed.versions.count() == v0 + 2
    ed.versions.setCurrentRow(v0)  # the version that defined PER
    assert "+Definition: A named person" in ed.diff.toPlainText()
    # undo takes the example back, then the definition
    win.session.undo()  # the span labelled after the save
    win.session.undo()
    win.session.undo()
    assert p.guidelines.guide("PER")["definition"] == "" and p.guideline()["version"] == v0


def test_a_boundary_move_stops_at_the_neighbour_and_the_history_names_what_was_replaced(opened, qtbot):
    win, view = opened, opened.view
    start = goto_text(win, "Emmanuel Macron")
    sid = win.session.current
    spans = {(a, b): lab for a, b, lab in [(sp.start, sp.end, sp.label) for sp in view.current_segment().spans]}
    emmanuel, macron = (start, start + 8), (start + 9, start + 15)
    assert emmanuel in spans and macron in spans  # the model's two neighbouring suggestions
    view.set_focus_span(
        view.current_segment(),
        next(sp for sp in view.current_segment().spans if (sp.start, sp.end) == emmanuel),
    )
    # Shift+Right would grow "Emmanuel" over "Macron": it stops at the neighbour, nothing is lost
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert db_spans(win, sid) is None  # nothing written
    assert "stops at the neighbour" in win.statusBar().currentMessage()
    # a mouse drag of the right edge past "Macron": the same
    rects = view.range_rects16(*view.tp.range16(*emmanuel))
    edge = QPoint(int(rects[-1].right()) - 1, int(rects[-1].center().y()))
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=edge)
    qtbot.mouseMove(vp, point(view, start + 18))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=point(view, start + 18))
    assert db_spans(win, sid) is None
    # labelling over both replaces them, and the history says which
    select(view, start, start + 15)
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert (start, start + 15, "PER") in db_spans(win, sid)
    last = win.session.project.history(sid)[-1]["action"]
    assert last.startswith("add span (replaced ") and "'Emmanuel'" in last and "'Macron'" in last


def test_the_core_clamps_a_move_at_the_neighbour(tmp_path):
    from nerdesk.core.errors import NerdeskError
    from nerdesk.core.project import Project
    from nerdesk.core.types import DocRecord, Span, drain

    p = Project.create(tmp_path / "c.nerdesk", labels=["PER", "ORG"])
    drain(p.import_records([DocRecord("Ann Lee met Bob at Acme Corp today.")]))
    sid = p.document(1)["segments"][0].id
    p.set_spans(sid, [Span(0, 3, "PER"), Span(19, 28, "ORG")])
    p.move_span(sid, 0, 3, 0, 34)  # over "Acme Corp": stops before it
    assert [(s.start, s.end, s.label) for s in p.segment(sid).spans] == [(0, 18, "PER"), (19, 28, "ORG")]
    assert p.history(sid)[-1]["action"] == "move boundary (stopped at ORG 'Acme Corp')"
    try:
        p.move_span(sid, 0, 18, 0, 30)
    except NerdeskError as e:
        assert e.code == "E436"
    else:
        raise AssertionError("E436 expected")
    p.move_span(sid, 0, 18, 0, 28, swallow=True)  # asked for: it goes, and the history names it
    assert [(s.start, s.end) for s in p.segment(sid).spans] == [(0, 28)]
    assert p.history(sid)[-1]["action"] == "move boundary (removed ORG 'Acme Corp')"
    p.undo()
    assert len(p.segment(sid).spans) == 2
    p.close()


def test_contrast_of_context_text_spans_and_tags():
    from nerdesk.core.labels import PALETTE
    from nerdesk.ui.theme import COLOUR_BLIND_SAFE, DARK, LIGHT, MIN_CONTRAST, contrast, ink_for, span_background

    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert contrast("#7A7A7A", "#ffffff") < 4.5  # what the context text was
    for theme in (LIGHT, DARK):
        assert contrast(theme.context, theme.base) >= MIN_CONTRAST, theme.name
        assert contrast(theme.context, theme.current_bg) >= MIN_CONTRAST - 0.5, theme.name
        assert contrast(theme.text, theme.current_bg) >= 7, theme.name
        for color in {*PALETTE, *COLOUR_BLIND_SAFE}:
            # the tag's ink on the label colour, and a span's ink on the colour as drawn
            assert contrast(ink_for(color), color) >= MIN_CONTRAST, color
            for confirmed in (False, True):
                for current in (False, True):
                    bg = span_background(theme, color, confirmed=confirmed, current=current)
                    assert contrast(ink_for(bg), bg) >= MIN_CONTRAST, (theme.name, color, confirmed, current)


def test_view_menu_settings_are_remembered_per_user(qtbot, tmp_path, monkeypatch, errors_sink):
    from PySide6.QtCore import QSettings

    from nerdesk.ui.main_window import MainWindow

    monkeypatch.setenv("NERDESK_DATA_DIR", str(tmp_path / "data"))
    ini = str(tmp_path / "ui.ini")
    win = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    assert win.view.theme.name == "light" and win.view.show_tags
    win.act_dark.trigger()
    win.act_tags.trigger()
    win.act_cb.trigger()
    for _ in range(3):
        win.findChild(type(win.act_dark), "largerTextAction").trigger()
    assert win.view.theme.name == "dark" and not win.view.show_tags and win.view.font().pointSizeF() == 14.0
    win.settings.sync()
    again = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    vs = again.view_settings
    assert (vs.theme, vs.tags, vs.colour_blind_safe, vs.font_pt) == ("dark", False, True, 14.0)
    assert again.view.theme.name == "dark" and again.view.font().pointSizeF() == 14.0
    assert again.act_dark.isChecked() and not again.act_tags.isChecked()
    again.act_dark.trigger()  # back to light for the other tests (the app palette is global)


def test_screenshots_of_label_tags_in_light_and_dark(window, tmp_path, qtbot):
    """The document view with label tags, light and dark (docs/screenshots/labels-*.png are these)."""
    from PySide6.QtGui import QColor

    path = make_project(tmp_path / "shot.nerdesk", TEXTS)
    assert window.open_project(path)
    view = window.view
    goto_text(window, "Emmanuel Macron")
    window.session.accept(advance=False)
    shots = {}
    for dark, tags in ((False, True), (True, True), (False, False)):
        window._set_view(theme="dark" if dark else "light", tags=tags)
        qtbot.wait(20)
        img = view.viewport().grab().toImage()
        out = tmp_path / f"labels-{'dark' if dark else 'light'}{'' if tags else '-notags'}.png"
        assert img.save(str(out))
        shots[(dark, tags)] = img
    per = QColor(view.colors["PER"]).rgb()

    def count(img, rgb):
        return sum(1 for y in range(0, img.height(), 2) for x in range(0, img.width(), 2) if img.pixel(x, y) == rgb)

    # a tag is the label colour at full strength: there with tags, absent without
    assert count(shots[(False, True)], per) > 20 and count(shots[(False, False)], per) == 0
    dark_bg = QColor("#1e1f22").rgb()
    assert count(shots[(True, True)], dark_bg) > count(shots[(False, True)], dark_bg) + 1000
    window._set_view(theme="light", tags=True)


def test_the_dashboard_shows_how_much_of_each_label_is_current(opened, qtbot):
    win = opened
    s = win.session
    for _ in range(3):  # three segments reviewed
        s.accept()
    p = s.project
    per = p.taxonomy.currency()["PER"]["annotations"]
    assert per > 0
    s.change_labels("guidelines.set_fields", "PER", definition="Only real people")
    dlg = win.show_dashboard()
    qtbot.waitUntil(lambda: dlg.report is not None and dlg.job is None, timeout=15000)
    t = dlg.currency
    rows = {t.item(i, 0).text(): [t.item(i, j).text() for j in range(1, 5)] for i in range(t.rowCount())}
    assert rows["PER"] == [str(per), "0", str(per), "0%"]
    org = p.taxonomy.currency()["ORG"]
    assert rows["ORG"][:3] == [str(org["annotations"]), str(org["annotations"]), "0"]


def test_a_split_in_the_app_is_placed_by_the_model_in_the_background(window, tmp_path, qtbot):
    """The shipped model knows PER and LOC: after merging them into ENT, a split back into PER | LOC from
    the labels dialog runs the model in a job and places the spans; they go to the stale queue."""
    import json

    from nerdesk.core.project import Project
    from nerdesk.core.types import DocRecord, drain

    path = tmp_path / "m.nerdesk"
    with Project.create(path, labels=["PER", "ORG", "LOC"]) as p:
        drain(p.import_records([DocRecord(t) for t in TEXTS]))
        drain(p.preannotate())
        for sid, _ in p.next_items(100, order="document"):
            p.accept(sid)
    assert window.open_project(path)
    p = window.session.project

    def counts():
        n = {}
        for (spans,) in p.store.conn.execute("SELECT spans FROM annotations"):
            for sp in json.loads(spans):
                n[sp["label"]] = n.get(sp["label"], 0) + 1
        return n

    before = counts()
    assert before.get("PER", 0) >= 3 and before.get("LOC", 0) >= 3
    dlg = window.show_labels()
    assert dlg.merge(["PER", "LOC"], "ENT")
    job = dlg.split("ENT", ["PER", "LOC"])
    assert job is not None and job is not True
    qtbot.waitUntil(lambda: "PER" in p.label_names(), timeout=60000)
    after = counts()
    assert after.get("ENT", 0) == 0 and after["PER"] + after["LOC"] == before["PER"] + before["LOC"]
    assert after["PER"] >= before["PER"] - 1  # placed back, as the model sees them
    assert set(p.taxonomy.stale_queue(100)) == {sid for sid, _ in p.next_items(100, status="accepted")}
    assert "the model placed spans in" in dlg.status.text()


def test_labels_menu_opens_the_stale_queue(opened, qtbot):
    win = opened
    s = win.session
    for _ in range(3):
        s.accept()
    s.change_labels("guidelines.set_fields", "LOC", definition="Only physical places")
    stale = win.session.project.taxonomy.stale_queue(100)
    assert stale
    win.act_stale.trigger()
    assert win.queue.status.currentText() == "stale"
    qtbot.waitUntil(lambda: win.queue.model.rowCount() == len(stale), timeout=5000)
    assert win.queue.model.ids() == stale
    s.next()
    assert s.current in stale  # Next walks the re-review queue
