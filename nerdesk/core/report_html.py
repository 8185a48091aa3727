"""``nerdesk report --html``: the dashboard as one self-contained HTML file (inline SVG charts,
no script, nothing fetched), for a lead who never opens the app."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

W, H, PAD = 560, 220, 36
COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"]


def _e(x: Any) -> str:
    return html.escape(str(x))


def _f(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:.1%}" if pct else f"{x:.3f}"


def _tick(v: float, top: float) -> str:
    return f"{v:.0f}" if top > 1 else f"{v:.2f}"


def bars(items: Sequence[tuple[str, float | None, tuple[float, float] | None]], title: str, top: float = 1.0) -> str:
    """Vertical bars (value in [0, top]) with optional interval whiskers."""
    n = max(1, len(items))
    bw = (W - 2 * PAD) / n
    out = [
        f'<svg viewBox="0 0 {W} {H + 40}" width="{W}" role="img" aria-label="{_e(title)}">',
        f'<text x="{PAD}" y="14" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    for k in range(5):
        y = H - (H - 2 * PAD) * k / 4 - PAD + 20
        out.append(
            f'<line x1="{PAD}" x2="{W - PAD}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{PAD - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{_tick(top * k / 4, top)}</text>'
        )

    def ypos(v: float) -> float:
        return H - PAD + 20 - (H - 2 * PAD) * max(0.0, min(v, top)) / top

    for i, (name, value, ci) in enumerate(items):
        x = PAD + i * bw + bw * 0.15
        if value is not None:
            y = ypos(value)
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw * 0.7:.1f}" height="{ypos(0) - y:.1f}" '
                f'fill="{COLORS[i % len(COLORS)]}"><title>{_e(name)}: {value:.3f}</title></rect>'
                f'<text x="{x + bw * 0.35:.1f}" y="{min(y, ypos(ci[1]) if ci else y) - 3:.1f}" '
                'font-size="10" text-anchor="middle">'
                f"{_tick(value, top)}</text>"
            )
        if ci:
            cx = x + bw * 0.35
            out.append(
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{ypos(ci[0]):.1f}" y2="{ypos(ci[1]):.1f}" '
                f'stroke="#000" stroke-width="1.5"/>'
            )
        most = max(5, int(bw / 6))  # characters that fit under the bar (10px text)
        label = name if len(name) <= most else name[: (most - 1) // 2] + "…" + name[-((most - 1) // 2) :]
        out.append(f'<text x="{x + bw * 0.35:.1f}" y="{H + 34}" font-size="10" text-anchor="middle">{_e(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def lines(xs: list[str], series: dict[str, list[float | None]], title: str, top: float = 1.0) -> str:
    out = [
        f'<svg viewBox="0 0 {W} {H + 40}" width="{W}" role="img" aria-label="{_e(title)}">',
        f'<text x="{PAD}" y="14" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    n = max(1, len(xs) - 1)

    def pos(i: int, v: float) -> tuple[float, float]:
        return PAD + (W - 2 * PAD) * i / n, H - PAD + 20 - (H - 2 * PAD) * max(0.0, min(v, top)) / top

    for k in range(5):
        y = H - (H - 2 * PAD) * k / 4 - PAD + 20
        out.append(
            f'<line x1="{PAD}" x2="{W - PAD}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{PAD - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{top * k / 4:.2f}</text>'
        )
    for i, x in enumerate(xs):
        px, _ = pos(i, 0)
        out.append(f'<text x="{px:.1f}" y="{H + 34}" font-size="10" text-anchor="middle">{_e(x)}</text>')
    for j, (name, ys) in enumerate(series.items()):
        pts = [pos(i, v) for i, v in enumerate(ys) if v is not None]
        color = COLORS[j % len(COLORS)]
        if pts:
            out.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
                + '"/>'
            )
            out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>' for a, b in pts]
        out.append(
            f'<text x="{W - PAD}" y="{30 + 14 * j}" font-size="11" text-anchor="end" fill="{color}">{_e(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def reliability(table: list[dict[str, Any]], title: str) -> str:
    items = [(f"{t['low']:.1f}", t["accuracy"] if t["n"] else None, None) for t in table]
    svg = bars(items, title)
    # the diagonal: perfect calibration
    x0, x1 = PAD, W - PAD
    y0, y1 = H - PAD + 20, PAD + 20
    return svg.replace(
        "</svg>", f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#888" stroke-dasharray="4 3"/></svg>'
    )


def table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(name: str, rep: dict[str, Any], retrain: dict[str, Any], generated: str) -> str:
    from nerdesk.core.metrics import NOVEL_SEGMENT, UNSEEN_IN_TRAINING_ALERT, best_model
    from nerdesk.core.retrain import describe

    models = rep["models"]
    active = next((m for m in models if m["active"]), None)
    best = best_model(models)
    parts = [
        f"<h1>nerdesk report: {_e(name)}</h1>",
        f"<p class='meta'>Generated {_e(generated)}. Every score is on reviewed segments the model was not "
        "trained on; intervals are 95% bootstrap intervals over segments.</p>",
    ]
    alerts = rep["drift"].get("alerts") or []
    if retrain["due"]:
        alerts = [f"fine-tune due: {retrain['reason']}", *alerts]
    parts.append(
        "<div class='alerts'>"
        + ("".join(f"<p class='alert'>⚠ {_e(a)}</p>" for a in alerts) or "<p class='ok'>No alert.</p>")
        + "</div>"
    )
    parts.append(f"<p><b>Retraining:</b> {_e(describe(retrain))}</p>")
    parts.append("<h2>Quality per model version</h2>")
    bare = [m["id"].split("+", 1)[0] for m in models]  # the version is what fits under a bar
    names = bare if len(set(bare)) == len(bare) else [m["id"] for m in models]
    parts.append(
        bars(
            [
                (n, m["exact"]["f1"] if m["reviewed_segments"] else None, m["f1_interval"])
                for n, m in zip(names, models)
            ],
            "Entity F1 (exact) per version, with its 95% interval",
        )
    )
    parts.append(
        table(
            ["Version", "Active", "Unseen reviewed", "F1", "95% interval", "Precision", "Recall", "ECE"],
            [
                [
                    m["id"],
                    "✔" if m["active"] else "",
                    m["reviewed_segments"],
                    _f(m["exact"]["f1"]),
                    f"{m['f1_interval'][0]:.3f}–{m['f1_interval'][1]:.3f}" if m["f1_interval"] else "—",
                    _f(m["exact"]["precision"]),
                    _f(m["exact"]["recall"]),
                    _f(m["ece"]),
                ]
                for m in models
            ],
        )
    )
    parts.append(
        f"<p>Best version: {_e(best['model_id']) if best else 'not known yet (50+ unseen segments each and separate intervals needed)'}.</p>"
    )
    # the active model, or (when it has trained on every reviewed segment) the newest one still scored
    shown = (
        active
        if active and active["reviewed_segments"]
        else next((m for m in reversed(models) if m["reviewed_segments"]), None)
    )
    if shown:
        which = "active model" if shown is active else "newest scored model"
        if shown is not active and active:
            parts.append(
                f"<p>The active model ({_e(active['id'])}) trained on every reviewed segment: "
                "it is scored once new ones are reviewed. Below: the newest model that is scored.</p>"
            )
        pl = shown["per_label"]
        parts.append(bars([(lab, v["f1"], None) for lab, v in pl.items()], f"F1 per label, {which} ({shown['id']})"))
        parts.append(reliability(shown["reliability"], f"Reliability, {which} (ECE {_f(shown['ece'])})"))
        lt = shown.get("long_tail")
        if lt:
            parts.append(
                f"<p><b>Long tail</b> (seen fewer than 5 times in its training segments): recall "
                f"{_f(lt['surface_recall'])} on {lt['surface_spans']} spans of rare surface forms, "
                f"{_f(lt['label_recall'])} on {lt['label_spans']} spans of rare labels "
                f"({_e(', '.join(lt['rare_labels']) or 'none')}).</p>"
            )
        if shown.get("per_source"):
            parts.append(
                f"<h3>Per source ({_e(shown['id'])})</h3>"
                + table(
                    ["Source", "Segments", "F1"],
                    [[s, v["segments"], _f(v["f1"])] for s, v in shown["per_source"].items()],
                )
            )
    d = rep["drift"]
    wins = d["windows"]
    parts.append("<h2>Drift (documents in import order)</h2>")
    if wins:
        xs = [f"{w['documents'][0]}–{w['documents'][1]}" for w in wins]
        parts.append(
            lines(
                xs,
                {
                    "mean confidence": [w["mean_confidence"] for w in wins],
                    "correction rate": [w["correction_rate"] for w in wins],
                    "unseen-word rate": [w["unseen_word_rate"] for w in wins],
                    "unseen in training": [w.get("unseen_in_training_rate") for w in wins],
                },
                "Input and output drift per window",
            )
        )
        tv = d.get("training_vocabulary")
        if tv:
            ref = tv.get("held_out_rate")
            parts.append(
                f"<p>Unseen in training: words the active model's training data never holds "
                f"({tv['words']} words: {_e(tv['source'] or 'none shipped')}"
                + (
                    f" + {tv['trained_segments']} trained-on segments of this project"
                    if tv.get("trained_segments")
                    else ""
                )
                + ")"
                + (f"; its own held-out sentences show {_f(ref, True)}" if ref is not None else "")
                + f". Alert above {UNSEEN_IN_TRAINING_ALERT:.0%} in the newest window.</p>"
            )
        else:
            parts.append(
                "<p>Unseen in training: not known (the active model ships no vocabulary or training sample).</p>"
            )
        newest = next((w for w in reversed(wins) if w.get("novelty")), None)
        if newest:
            nov = newest["novelty"]
            parts.append(
                bars(
                    [(f"{k * 10}–{k * 10 + 10}%", n / nov["segments"], None) for k, n in enumerate(nov["histogram"])],
                    f"Newest documents ({newest['documents'][0]}–{newest['documents'][1]}): "
                    "segments by unseen-in-training share",
                )
            )
        labels = sorted({k for w in wins for k in w["labels"]})
        parts.append(
            table(
                [
                    "Documents",
                    *[f"{lab} share" for lab in labels],
                    "Unseen words (earlier documents)",
                    "Unseen in training",
                    "Novelty p50 / p90",
                    f"Segments over {NOVEL_SEGMENT:.0%} unseen",
                ],
                [
                    [
                        x,
                        *[_f(w["labels"].get(lab), True) for lab in labels],
                        _f(w["unseen_word_rate"], True),
                        _f(w.get("unseen_in_training_rate"), True),
                        f"{_f(w['novelty']['p50'], True)} / {_f(w['novelty']['p90'], True)}"
                        if w.get("novelty")
                        else "—",
                        _f(w["novelty"]["novel_share"], True) if w.get("novelty") else "—",
                    ]
                    for x, w in zip(xs, wins)
                ],
            )
        )
        parts.append(f"<p>PSI of uncertainty, first vs last window: {_f(d['psi'])}</p>")
    else:
        parts.append("<p>No predictions yet.</p>")
    e = rep["errors"]
    parts.append("<h2>Errors</h2>")
    parts.append(
        bars(
            [(k, v, None) for k, v in sorted(e["per_category"].items())],
            "Corrections by error type",
            top=max([1, *e["per_category"].values()]),
        )
    )
    parts.append(
        "<h3>Recurring errors</h3>"
        + table(
            ["Version", "Corrections against it", "Already corrected before it", "Share"],
            [[r["model_id"], r["corrections"], r["recurring"], _f(r["share"], True)] for r in rep["recurrence"]],
        )
    )
    days = rep["severity"]
    if len(days) == 1:
        parts.append(
            "<h3>Corrections by severity</h3>"
            + table(["Day", "High", "Normal", "Low"], [[x["day"], x["high"], x["normal"], x["low"]] for x in days])
        )
    elif days:
        parts.append(
            lines(
                [x["day"][5:] for x in days],
                {s: [x[s] for x in days] for s in ("high", "normal", "low")},
                "Corrections per day by severity",
                top=max([1, *[x[s] for x in days for s in ("high", "normal", "low")]]),
            )
        )
    from nerdesk.core.metrics import MIN_COST_SEGMENTS

    parts.append(
        "<h3>Cost per F1 point</h3>"
        "<p class='meta'>Both versions scored on the same segments: reviewed, and trained on by "
        f"neither; no figure on fewer than {MIN_COST_SEGMENTS}.</p>"
        + table(
            [
                "From",
                "To",
                "Edit actions in between",
                "Shared segments",
                "F1 from → to",
                "F1 points gained",
                "Actions per point",
            ],
            [
                [
                    c["from"],
                    c["to"],
                    c["actions"],
                    c["segments"],
                    "—" if c["f1_from"] is None else f"{c['f1_from']:.3f}\u00a0→\u00a0{c['f1_to']:.3f}",
                    "—" if c["f1_points"] is None else f"{c['f1_points']:+.1f}",
                    c["reason"] if c["actions_per_point"] is None else f"{c['actions_per_point']:.1f}",
                ]
                for c in rep["cost_per_point"]
            ],
        )
    )
    parts.append(
        "<h3>Most missed</h3>"
        + table(
            ["Surface form", "Label", "Times"],
            [[x["text"], x["label"], x["count"]] for x in e["missed_surface_forms"][:10]],
        )
    )
    style = (
        "body{font-family:sans-serif;max-width:1180px;margin:24px auto;color:#222}"
        "table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;"
        "font-size:13px}th{background:#f3f3f3}.alert{color:#b00020;font-weight:bold}.ok{color:#2e7d32}"
        ".meta{color:#666}svg{margin:6px 12px 6px 0}"
    )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>nerdesk report: {_e(name)}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )


def write_html(path: str | Path, name: str, rep: dict[str, Any], retrain: dict[str, Any], generated: str) -> Path:
    path = Path(path)
    path.write_text(render(name, rep, retrain, generated), encoding="utf-8")
    return path
