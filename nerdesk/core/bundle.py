"""Correction bundles: what leaves one laptop and reaches another, or the fine-tuner.

A bundle is a zip with exactly two members:

* ``manifest.json``: bundle format version, nerdesk version, project and bundle ids, creation
  time, annotators, the guideline version with its label definitions, the model id and sha256,
  counts per error category, and the sha256 of every other member;
* ``corrections.jsonl``: one line per reviewed segment (text, tokens, predicted spans with
  confidences, final spans, error tags, annotator, tier, timestamps, document id and offsets,
  source, metadata).

Offsets in a line are relative to the segment's ``text``. The format is documented in
docs/bundle-format.md and checked by the JSON Schemas in resources/schemas/. Reading checks
every hash (a tampered bundle is rejected), refuses unexpected members (path traversal) and
bounds what it decompresses (zip bombs).
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerdesk import __version__
from nerdesk.core.errors import Errors, err
from nerdesk.core.types import DocRecord, Span

if TYPE_CHECKING:
    from nerdesk.core.project import Project

BUNDLE_FORMAT = 1
MANIFEST = "manifest.json"
CORRECTIONS = "corrections.jsonl"
MEMBERS = {MANIFEST, CORRECTIONS}
#: Refuse to decompress more than this (zip-bomb guard), or a member compressed more than RATIO:1.
MAX_UNCOMPRESSED = 2_000_000_000
MAX_RATIO = 200


def project_id(project: Project) -> str:
    pid = project.store.get_setting("project_id")
    if pid is None:
        pid = str(uuid.uuid4())
        with project.store.transaction():
            project.store.set_setting("project_id", pid)
    return pid


def bundle_lines(project: Project, *, reviewed_only: bool = True) -> Iterator[dict[str, Any]]:
    """One dict per reviewed (accepted) annotation of a segment: the lines of corrections.jsonl."""
    store = project.store
    conn = store.conn
    rows = conn.execute(
        "SELECT a.segment_id, a.annotator, a.tier, a.status, a.spans, a.note, a.guideline_version, a.model_id, "
        "a.created, a.updated, s.doc_id, s.start, s.end, s.tokens, d.source, d.meta, d.content_hash, "
        "substr(d.text, s.start + 1, s.end - s.start) FROM annotations a JOIN segments s ON s.id = a.segment_id "
        "JOIN documents d ON d.id = s.doc_id WHERE a.status = 'accepted' ORDER BY a.segment_id, a.annotator"
    )
    active = store.active_model_id()
    for (sid, annotator, tier, status, spans, note, gv, model_id, created, updated, doc_id, start, end, tokens,
         source, meta, doc_hash, text) in rows:
        model_id = model_id or active  # imported annotations were not made against a model
        flat = json.loads(tokens)
        pred = store.predictions_for([sid], model_id).get(sid) if model_id else None
        corrections = store.corrections(segment_id=sid, annotator=annotator)
        yield {
            "segment_id": sid,
            "text": text,
            "tokens": [[a, b] for a, b in zip(flat[::2], flat[1::2])],
            "predicted": [{"start": a - start, "end": b - start, "label": lab, "confidence": c}
                          for a, b, lab, c in (pred["spans"] if pred else [])],
            "final": [{"start": sp["start"] - start, "end": sp["end"] - start, "label": sp["label"]}
                      for sp in json.loads(spans)],
            "errors": [_error(c, start) for c in reversed(corrections)],
            "annotator": annotator,
            "tier": tier,
            "status": status,
            "note": note,
            "model_id": model_id,
            "guideline_version": gv,
            "created": created,
            "updated": updated,
            # the file name only: a full path would tell where (and whose) the file was
            "document": {"id": doc_id, "hash": doc_hash, "start": start, "end": end, "source": Path(source).name,
                         "meta": json.loads(meta)},
        }


def _error(c: dict[str, Any], base: int) -> dict[str, Any]:
    pred = json.loads(c["predicted"]) if c["predicted"] else None
    final = json.loads(c["final"]) if c["final"] else None
    return {
        "category": c["category"],
        "auto_category": c["auto_category"],
        "reason": c["reason"],
        "label": c["label"],
        "severity": c["severity"],
        "surface": c["surface"],
        "predicted": {"start": pred[0] - base, "end": pred[1] - base, "label": pred[2], "confidence": pred[3]}
        if pred else None,
        "final": {"start": final[0] - base, "end": final[1] - base, "label": final[2]} if final else None,
    }


def preview(project: Project) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Exactly what a bundle of this project would contain: (manifest without hashes, lines)."""
    project.refresh_corrections()
    lines = list(bundle_lines(project))
    return _manifest(project, lines), lines


def _manifest(project: Project, lines: list[dict[str, Any]]) -> dict[str, Any]:
    g = project.guideline() or {"version": None, "labels": [], "text": ""}
    counts: dict[str, int] = {}
    for line in lines:
        for e in line["errors"]:
            counts[e["category"]] = counts.get(e["category"], 0) + 1
    model_ids = sorted({line["model_id"] for line in lines if line["model_id"]})
    models = {m["id"]: m for m in project.store.models()}
    return {
        "bundle_format": BUNDLE_FORMAT,
        "nerdesk_version": __version__,
        "project_id": project_id(project),
        "project_name": project.name,
        "bundle_id": str(uuid.uuid4()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "annotators": sorted({line["annotator"] for line in lines}),
        "segments": len(lines),
        "guideline": {"version": g["version"], "text": g["text"],
                      "labels": [{"name": lab["name"], "description": lab.get("description", ""),
                                  "color": lab.get("color")} for lab in g["labels"]]},
        "models": [{"id": m, "sha256": models[m]["sha256"] if m in models else ""} for m in model_ids],
        "error_counts": counts,
        "files": {},
    }


def write_bundle(project: Project, out: str | Path) -> dict[str, Any]:
    """Write the bundle zip; returns its manifest."""
    manifest, lines = preview(project)
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
    manifest["files"] = {CORRECTIONS: hashlib.sha256(body).hexdigest()}
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
        z.writestr(CORRECTIONS, body)
    tmp.replace(out)
    with project.store.transaction():
        project.store.log_event(project.user, "export bundle", "log", None, None,
                                {"bundle_id": manifest["bundle_id"], "segments": len(lines), "path": str(out)})
    return manifest


def read_bundle(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Open and verify a bundle: (manifest, lines). Raises E120–E124 on anything suspicious."""
    path = Path(path)
    if not path.exists():
        raise err(Errors.E100, path=path)
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise err(Errors.E120, file=path, reason=str(exc)) from exc
    with z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        unexpected = [n for n in names if n not in MEMBERS]
        if unexpected or len(names) != len(set(names)):
            raise err(Errors.E121, file=path, members=", ".join(unexpected or names))
        if MANIFEST not in names or CORRECTIONS not in names:
            raise err(Errors.E120, file=path, reason=f"it must hold {MANIFEST} and {CORRECTIONS}")
        total = 0
        for i in infos:
            total += i.file_size
            if total > MAX_UNCOMPRESSED or (i.compress_size and i.file_size / i.compress_size > MAX_RATIO):
                raise err(Errors.E122, file=path, member=i.filename)
        manifest_bytes = _read_bounded(z, MANIFEST, path)
        body = _read_bounded(z, CORRECTIONS, path)
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as exc:
        raise err(Errors.E120, file=path, reason=f"{MANIFEST} is not valid JSON ({exc})") from exc
    if manifest.get("bundle_format") != BUNDLE_FORMAT:
        raise err(Errors.E120, file=path, reason=f"bundle format {manifest.get('bundle_format')!r} "
                  f"is not {BUNDLE_FORMAT}")
    expected = (manifest.get("files") or {}).get(CORRECTIONS)
    if expected != hashlib.sha256(body).hexdigest():
        raise err(Errors.E123, file=path, member=CORRECTIONS)
    lines = []
    for n, raw in enumerate(io.BytesIO(body), start=1):
        try:
            lines.append(json.loads(raw))
        except ValueError as exc:
            raise err(Errors.E106, file=f"{path}!{CORRECTIONS}", line=n, reason=str(exc)) from exc
    if len(lines) != manifest.get("segments"):
        raise err(Errors.E123, file=path, member=CORRECTIONS)
    return manifest, lines


def _read_bounded(z: zipfile.ZipFile, name: str, path: Path) -> bytes:
    """Read a member, stopping (E122) if it inflates beyond its declared size."""
    info = z.getinfo(name)
    with z.open(info) as f:
        data = f.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise err(Errors.E122, file=path, member=name)
    return data


def bundle_records(path: str | Path) -> Iterator[DocRecord]:
    """A bundle's lines as DocRecords (one per reviewed segment), for the importer."""
    manifest, lines = read_bundle(path)
    for n, line in enumerate(lines, start=1):
        yield DocRecord(
            text=line["text"],
            spans=[Span(s["start"], s["end"], s["label"]) for s in line["final"]],
            tokens=[tuple(t) for t in line["tokens"]],
            sentences=[(0, len(line["text"]))],
            meta={**line["document"].get("meta", {}), "bundle_id": manifest["bundle_id"],
                  "bundle_project": manifest["project_id"], "origin_document": line["document"]},
            source=line["document"].get("source", ""),
            line=n,
            annotator=line["annotator"],
            status=line["status"],
        )


def import_bundle(project: Project, path: str | Path, *, add_labels: bool | None = None):
    """Merge a bundle into a project (a generator, like every import; one transaction).

    A segment whose original document is in this project attaches to it; any other becomes a
    document of its own. Importing the same bundle twice changes nothing; annotations by
    different annotators of the same segment are all kept, for adjudication.
    """
    from nerdesk.core.importer import import_records

    path = Path(path)
    manifest, _ = read_bundle(path)
    store = project.store
    records = []
    for rec in bundle_records(path):
        origin = rec.meta["origin_document"]
        found = store.existing_documents([origin["hash"]]) if origin.get("hash") else {}
        doc = store.document(found[origin["hash"]]) if found else None
        if doc is not None and doc["text"][origin["start"]:origin["end"]] == rec.text:
            base = origin["start"]
            rec = DocRecord(text=doc["text"], spans=[Span(s.start + base, s.end + base, s.label) for s in rec.spans or []],
                            meta=rec.meta, source=rec.source, line=rec.line, annotator=rec.annotator,
                            status=rec.status, annotated_range=(origin["start"], origin["end"]))
        records.append(rec)
    return import_records(project, records, annotations=True, add_labels=add_labels, source=path.name,
                          log={"bundle_id": manifest["bundle_id"], "bundle_project": manifest["project_id"]})
