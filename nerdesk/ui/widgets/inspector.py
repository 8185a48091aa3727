"""The span inspector: the focused span (or the current segment) and who changed it, when."""

from __future__ import annotations

import html

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from nerdesk.core.types import ShownSpan
from nerdesk.ui.widgets.document_view import LOW_CONFIDENCE, Focus


class SpanInspector(QWidget):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setObjectName("spanInspector")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(QLabel("<b>Inspector</b>"))
        self.body = QTextBrowser()
        self.body.setObjectName("inspectorBody")
        self.body.setOpenLinks(False)
        lay.addWidget(self.body)
        self._focus: Focus | None = None
        # coalesced and run after the document view has repainted: edits stay fast
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self.refresh_now)
        session.currentChanged.connect(lambda _sid: self.show_span(None))
        session.changed.connect(self._changed)

    def _changed(self, changes) -> None:
        if changes.labels:
            self._colors_for = None
        self.refresh()

    def show_span(self, focus: Focus | None) -> None:
        self._focus = focus
        self.refresh()

    def refresh(self) -> None:
        self._timer.start()

    @property
    def colors(self) -> dict[str, str]:
        p = self.session.project
        if p is None:
            return {}
        if getattr(self, "_colors_for", None) is not p:
            self._colors = {lab["name"]: lab["color"] for lab in p.labels()}
            self._colors_for = p
        return self._colors

    def definition(self, label: str) -> str:
        """The label's definition from the guideline (nerdesk.core.guideline), else its description."""
        p = self.session.project
        return p.guidelines.definition(label) if p is not None else ""

    def refresh_now(self) -> None:
        s = self.session
        seg = s.segment()
        if s.project is None or seg is None:
            self.body.setHtml("<i>No segment</i>")
            return
        rows = []
        f = self._focus
        if f is not None and f.segment_id == seg.id:
            sp = next((x for x in seg.spans if x.key() == f.span.key()), f.span)
            text = s.doc["text"][f.start : f.end] if s.doc else ""
            conf = sp.confidence
            rows += [
                ("Span", f"“{html.escape(text)}” [{f.start}, {f.end})"),
                ("Label", html.escape(f.label)),
                *([("Definition", html.escape(d))] if (d := self.definition(f.label)) else []),
                ("Confidence", "—" if conf is None else f"{conf:.3f}"),
                ("Origin", html.escape(_origin(sp))),
                ("Confirmed", "yes" if sp.confirmed else "no"),
            ]
        else:
            rows.append(("Span", "<i>none focused (Tab, or click a span)</i>"))
        ann = seg.annotation
        pred = seg.prediction
        rows += [
            ("Segment", f"#{seg.id} — {html.escape(seg.status)}"),
            ("Model", html.escape(str((ann.model_id if ann else None) or s.project.active_model_id() or "none"))),
        ]
        if pred is not None and pred.uncertainty is not None:
            rows.append(("Uncertainty", f"{pred.uncertainty:.3f}"))
        why = s.reasons.get(seg.id)
        if why:
            rows.append(("Routed because", "<br>".join(html.escape(r) for r in why)))
        if ann is not None:
            rows.append(("Last change", f"{html.escape(ann.annotator)} ({ann.tier}), {(ann.updated or '')[:19]}"))
            if ann.note:
                rows.append(("Note", html.escape(ann.note)))
        # every span of the segment, named: the label is never told by colour alone
        text = s.doc["text"] if s.doc else ""
        span_rows = []
        for sp in sorted(seg.spans, key=lambda x: (x.start, x.end)):
            conf = sp.confidence
            is_focus = f is not None and sp.key() == f.span.key()
            cue = (
                "✔ confirmed"
                if sp.confirmed
                else (
                    html.escape(_origin(sp))
                    if sp.origin == "terms"
                    else "model "
                    + (f"{conf:.2f}" if conf is not None else "")
                    + (" ⚠ low" if conf is not None and conf < LOW_CONFIDENCE else "")
                )
            )
            color = html.escape(self.colors.get(sp.label, "#bbb"))
            cells = (
                f"<td><span style='background:{color}'>&nbsp;&nbsp;</span> {html.escape(sp.label)}</td>"
                f"<td>{html.escape(text[sp.start : sp.end])}</td><td>{cue}</td>"
            )
            span_rows.append(f"<tr style='font-weight:{'bold' if is_focus else 'normal'}'>{cells}</tr>")
        live = s.live_corrections(seg.id)
        if pred is not None:
            from nerdesk.ui.corrections import describe

            changes = "<br>".join(html.escape(describe(c, text)) for c in live) or "<i>none: as the model predicted</i>"
            rows_html_changes = f"<p><b>Your changes vs the model</b><br>{changes}</p>"
        else:
            rows_html_changes = ""
        hist = s.project.history(seg.id)[-6:]
        table = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
        hist_html = "".join(
            f"<li>{html.escape(h['ts'][:19])} {html.escape(h['actor'])}: {html.escape(h['kind'])} "
            f"{html.escape(h['action'])}</li>"
            for h in reversed(hist)
        )
        spans_html = (
            f"<p><b>Spans in this segment</b> (Tab cycles)</p><table cellspacing=2>{''.join(span_rows)}</table>"
            if span_rows
            else "<p><i>No spans in this segment.</i></p>"
        )
        self.body.setHtml(
            f"<table cellspacing=3>{table}</table>"
            + spans_html
            + rows_html_changes
            + (f"<p><b>History</b></p><ul>{hist_html}</ul>" if hist_html else "")
        )


def _origin(sp: ShownSpan) -> str:
    """Where a span came from, in words: "model suggestion", "term list NAME" (and the term), "human"."""
    if sp.origin == "terms":
        name = (sp.source or "").removeprefix("terms:")
        term = sp.term
        return f"term list {name}" + (f" (term {term!r})" if term and sp.term_id is not None else "")
    return "model suggestion" if sp.origin == "model" else "human"
