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
every hash (a tampered bundle is rejected), refuses unexpected members (path traversal), bounds
what it decompresses (zip bombs) and checks the fields of the manifest and of every line, so that
a corrupt or hostile bundle is a coded error naming the bundle (and the line), never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerdesk import __version__
from nerdesk.core import edits, settings
from nerdesk.core.store import terms as terms_sql
from nerdesk.core.errors import Errors, err
from nerdesk.core.formats._io import check_file
from nerdesk.core.schema import problem
from nerdesk.core.store import human as human_sql
from nerdesk.core.types import DocRecord, Span

if TYPE_CHECKING:
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity

BUNDLE_FORMAT = 1
MANIFEST = "manifest.json"
CORRECTIONS = "corrections.jsonl"
MEMBERS = {MANIFEST, CORRECTIONS}
#: Zip-bomb guards, checked on the declared sizes before anything is inflated (and inflating stops
#: at the declared size): at most this much in all (about 300,000 reviewed segments), a manifest of
#: at most MAX_MANIFEST, no member compressed more than MAX_RATIO:1.
MAX_UNCOMPRESSED = 512 * 2**20
MAX_MANIFEST = 16 * 2**20
MAX_RATIO = 200


def project_id(store: Store) -> str:
    pid = store.get_setting("project_id")
    if pid is None:
        pid = str(uuid.uuid4())
        with store.transaction():
            store.set_setting("project_id", pid)
    return pid


def bundle_lines(store: Store, *, reviewed_only: bool = True) -> Iterator[dict[str, Any]]:
    """One dict per reviewed (accepted) segment: its resolved annotation (nerdesk.core.adjudicate),
    the lines of corrections.jsonl. A segment in conflict gives the version its adjudication or the
    project's protocol chose (an adjudicated or majority version is the adjudicator's, or the
    majority's best-placed author's); an unresolved conflict gives no line (see
    :func:`unresolved_count`)."""
    from itertools import groupby

    for _, group in groupby(human_sql.accepted_rows(store), key=lambda r: r[0]):
        rows = list(group)
        row = rows[0] if len(rows) == 1 else _resolved_row(store, rows)
        if row is not None:
            yield _bundle_line(store, row)


def unresolved_count(store: Store) -> int:
    """Conflicting segments that no adjudication and no protocol rule resolves (left out of bundles)."""
    from nerdesk.core.adjudicate import summary

    return summary(store)["unresolved"]


def _resolved_row(store: Store, rows: list[tuple]) -> tuple | None:
    """Of several people's accepted rows of one segment, the one to bundle (None: unresolved)."""
    from nerdesk.core import adjudicate as adj
    from nerdesk.core.store import review as review_store

    anns = [store.annotation_row(r) for r in rows]  # rows of store/human.accepted_rows
    sid = rows[0][0]
    res = adj.resolve(anns, review_store.latest_adjudications(store, [sid]).get(sid), adj.protocol(store))
    if res is None or not res.resolved:
        return None
    if res.annotation is not None:
        return next(r for r in rows if r[1] == res.annotation.annotator)
    base = next((r for r in rows if r[1] == res.by), rows[0])
    decided = res.adjudication
    spans = json.dumps([{"start": sp.start, "end": sp.end, "label": sp.label} for sp in res.spans or []])
    note = f"{res.how} by {res.by}" + (f": {res.reason}" if res.reason else "")
    when = decided["created"] if decided else base[9]
    return (
        sid,
        res.by or base[1],
        res.tier or base[2],
        "accepted",
        spans,
        note,
        base[6],
        base[7],
        when,
        when,
        *base[10:],
    )


def _send_backs(store: Store) -> list[dict[str, Any]]:
    """Reviewers' send-backs still waiting for their annotator, so that they reach the annotator's
    laptop: the segment (document hash and offsets), the annotator, the reviewer, the note, and the
    spans of the version sent back (relative to the segment)."""
    from nerdesk.core.store import review as review_store

    return [
        {
            "document": {"hash": r["hash"], "start": r["start"], "end": r["end"]},
            "annotator": r["annotator"],
            "reviewer": r["reviewer"],
            "tier": r["tier"],
            "decision": r["decision"],
            "note": r["note"],
            "created": r["created"],
            "spans": [
                {"start": sp.start - r["start"], "end": sp.end - r["start"], "label": sp.label} for sp in r["spans"]
            ],
        }
        for r in review_store.current_send_backs(store)
    ]


def _bundle_line(store: Store, row: tuple) -> dict[str, Any]:
    active = store.active_model_id()
    (
        sid,
        annotator,
        tier,
        status,
        spans,
        note,
        gv,
        model_id,
        created,
        updated,
        doc_id,
        start,
        end,
        tokens,
        source,
        meta,
        doc_hash,
        text,
    ) = row
    model_id = model_id or active  # imported annotations were not made against a model
    flat = json.loads(tokens)
    pred = store.predictions_for([sid], model_id).get(sid) if model_id else None
    corrections = store.corrections(segment_id=sid, annotator=annotator)
    return {
        "segment_id": sid,
        "text": text,
        "tokens": [[a, b] for a, b in zip(flat[::2], flat[1::2])],
        "predicted": [
            {"start": sp.start - start, "end": sp.end - start, "label": sp.label, "confidence": sp.confidence}
            for sp in (pred.spans if pred else ())
        ],
        "final": [_final_span(Span.from_json(sp), start) for sp in json.loads(spans)],
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
        "document": {
            "id": doc_id,
            "hash": doc_hash,
            "start": start,
            "end": end,
            "source": Path(source).name,
            "meta": json.loads(meta),
        },
    }


TERMS_SOURCE = "terms:"


def _final_span(sp: Span, base: int) -> dict[str, Any]:
    """A reviewed span as a bundle line carries it; one a term list suggested keeps its ``source``
    ("terms:NAME") and ``origin`` ("terms" if the reviewer kept it as suggested, "human" if edited)."""
    out: dict[str, Any] = {"start": sp.start - base, "end": sp.end - base, "label": sp.label}
    source = sp.source or ""
    if source.startswith(TERMS_SOURCE):
        out["source"], out["origin"] = source, sp.origin
    return out


def term_list_use(lines: Iterable[dict[str, Any]], manifests: Iterable[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Which term lists the reviewed spans of these bundle lines came from: per list its version(s) at
    bundle time (from the manifests), the segments holding its spans, and its spans kept as suggested
    (``accepted``) or edited by the reviewer (``edited``). A fine-tune's card records it."""
    versions: dict[str, set[int]] = {}
    for m in manifests:
        for u in m.get("term_lists") or []:
            if u.get("version") is not None:
                versions.setdefault(u["name"], set()).add(u["version"])
    use: dict[str, dict[str, Any]] = {}
    for line in lines:
        seen: set[str] = set()
        for sp in line.get("final") or []:
            source = sp.get("source") or ""
            if not source.startswith(TERMS_SOURCE):
                continue
            name = source[len(TERMS_SOURCE) :]
            u = use.setdefault(name, {"name": name, "segments": 0, "accepted": 0, "edited": 0})
            u["accepted" if sp.get("origin") == "terms" else "edited"] += 1
            seen.add(name)
        for name in seen:
            use[name]["segments"] += 1
    return [{**use[n], "versions": sorted(versions.get(n, ()))} for n in sorted(use)]


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
        if pred
        else None,
        "final": {"start": final[0] - base, "end": final[1] - base, "label": final[2]} if final else None,
    }


def preview(store: Store) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Exactly what a bundle of this project would contain: (manifest without hashes, lines)."""
    edits.refresh_corrections(store)
    lines = list(bundle_lines(store))
    return _manifest(store, lines), lines


def _manifest(store: Store, lines: list[dict[str, Any]]) -> dict[str, Any]:
    g = store.guideline() or {"version": None, "labels": [], "text": ""}
    counts: dict[str, int] = {}
    for line in lines:
        for e in line["errors"]:
            counts[e["category"]] = counts.get(e["category"], 0) + 1
    model_ids = sorted({line["model_id"] for line in lines if line["model_id"]})
    models = {m["id"]: m for m in store.models()}
    list_versions = {x["name"]: x["version"] for x in terms_sql.lists(store)}
    return {
        "bundle_format": BUNDLE_FORMAT,
        "nerdesk_version": __version__,
        "project_id": project_id(store),
        "project_name": settings.project_name(store),
        "bundle_id": str(uuid.uuid4()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "annotators": sorted({line["annotator"] for line in lines}),
        "people": {line["annotator"]: line["tier"] for line in sorted(lines, key=lambda x: x["updated"])},
        "unresolved_conflicts": unresolved_count(store),
        "reviews": _send_backs(store),
        "segments": len(lines),
        "guideline": {
            "version": g["version"],
            "text": g["text"],
            # the labels annotated now (retired and split ones are not: a fine-tune learns these)
            "labels": [
                {
                    "name": lab["name"],
                    "description": lab.get("description", ""),
                    "color": lab.get("color"),
                    **({"parent": lab["parent"]} if lab.get("parent") else {}),
                    **({"guide": lab["guide"]} if lab.get("guide") else {}),
                }
                for lab in g["labels"]
                if lab.get("status", "active") == "active"
            ],
        },
        "models": [{"id": m, "sha256": models[m]["sha256"] if m in models else ""} for m in model_ids],
        # the term lists whose suggestions reviewers kept or edited here, with each list's version now
        "term_lists": [
            {k: v for k, v in u.items() if k != "versions"} | {"version": list_versions.get(u["name"])}
            for u in term_list_use(lines)
        ],
        "error_counts": counts,
        "files": {},
    }


def write_bundle(store: Store, actor: Identity, out: str | Path) -> dict[str, Any]:
    """Write the bundle zip; returns its manifest."""
    manifest, lines = preview(store)
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
    manifest["files"] = {CORRECTIONS: hashlib.sha256(body).hexdigest()}
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
        z.writestr(CORRECTIONS, body)
    tmp.replace(out)
    with store.transaction():
        store.log_event(
            actor.user,
            "export bundle",
            "log",
            None,
            None,
            {"bundle_id": manifest["bundle_id"], "segments": len(lines), "path": str(out)},
        )
    return manifest


def read_bundle(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Open and verify a bundle: (manifest, lines). Raises E100, E117 (not a regular file), E120
    (not a zip, a corrupt one, or a manifest that is not what nerdesk writes), E121 (unexpected
    members), E122 (zip bomb), E123 (altered), or E106/E107/E114 for a line that is not what
    nerdesk writes (naming ``BUNDLE!corrections.jsonl`` and the line)."""
    path = check_file(path)
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            names = [i.filename for i in infos]
            unexpected = [n for n in names if n not in MEMBERS]
            if unexpected or len(names) != len(set(names)):
                raise err(Errors.E121, file=path, members=", ".join(unexpected or names))
            if MANIFEST not in names or CORRECTIONS not in names:
                raise err(Errors.E120, file=path, reason=f"it must hold {MANIFEST} and {CORRECTIONS}")
            _check_sizes(infos, path)
            manifest_bytes = _inflate(z, z.getinfo(MANIFEST), path)
            body = _inflate(z, z.getinfo(CORRECTIONS), path)
    except _ZIP_ERRORS as exc:  # bad CRC, corrupt deflate data, lying sizes, ...
        raise err(Errors.E120, file=path, reason=f"a corrupt zip ({type(exc).__name__}: {exc})") from None
    manifest = _read_manifest(manifest_bytes, path)
    if manifest["files"].get(CORRECTIONS) != hashlib.sha256(body).hexdigest():
        raise err(Errors.E123, file=path, member=CORRECTIONS)
    where = f"{path}!{CORRECTIONS}"
    lines = [_line(raw, n, where) for n, raw in enumerate(_split_lines(body), start=1)]
    if len(lines) != manifest["segments"]:
        raise err(Errors.E123, file=path, member=CORRECTIONS)
    return manifest, lines


#: What zipfile and zlib raise on a corrupt archive (NerdeskError is none of these).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    OverflowError,
    struct.error,
    NotImplementedError,
    RuntimeError,
)
_CHUNK = 1 << 20


def _split_lines(body: bytearray) -> Iterator[bytearray]:
    """The lines of ``body`` one at a time (a list of them all would double the memory)."""
    start = 0
    while start < len(body):
        end = body.find(b"\n", start)
        end = len(body) if end < 0 else end
        yield body[start:end]
        start = end + 1


def _check_sizes(infos: list[zipfile.ZipInfo], path: Path) -> None:
    """Refuse before inflating anything: over the absolute cap (in all) or the ratio, an encrypted
    member, a compression method nerdesk does not write."""
    total = 0
    for i in infos:
        total += i.file_size
        if (
            total > MAX_UNCOMPRESSED
            or (i.compress_size and i.file_size / i.compress_size > MAX_RATIO)
            or (i.filename == MANIFEST and i.file_size > MAX_MANIFEST)
        ):
            raise err(Errors.E122, file=path, member=i.filename)
        if i.flag_bits & 0x1:
            raise err(Errors.E120, file=path, reason=f"{i.filename} is encrypted")
        if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise err(
                Errors.E120, file=path, reason=f"{i.filename} uses compression method {i.compress_type}, not deflate"
            )


def _inflate(z: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytearray:
    """A member's bytes, inflated a chunk at a time: never more than its declared size (already
    within the caps), E122 if it would inflate beyond it, E120 if it falls short of it."""
    out = bytearray()
    with z.open(info) as f:
        while chunk := f.read(min(_CHUNK, info.file_size + 1 - len(out))):
            out += chunk
            if len(out) > info.file_size:
                raise err(Errors.E122, file=path, member=info.filename)
    if len(out) != info.file_size:
        raise err(
            Errors.E120,
            file=path,
            reason=f"{info.filename} inflates to {len(out)} bytes, not the "
            f"{info.file_size} its header declares (a corrupt zip)",
        )
    return out  # not copied to bytes: hashlib and json take it as it is


def _json(raw: bytearray, bad) -> Any:
    """Parse a manifest or a line; ``bad(reason)`` builds the coded error that names where it is."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise bad("invalid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise bad(f"invalid JSON ({exc})") from None


def _read_manifest(raw: bytearray, path: Path) -> dict[str, Any]:
    def bad(reason: str):
        return err(Errors.E120, file=path, reason=f"{MANIFEST}: {reason}")

    manifest = _json(raw, bad)
    if not isinstance(manifest, dict):
        raise bad(f"not a JSON object but {type(manifest).__name__}")
    if manifest.get("bundle_format") != BUNDLE_FORMAT:
        raise err(
            Errors.E120, file=path, reason=f"bundle format {manifest.get('bundle_format')!r:.40} is not {BUNDLE_FORMAT}"
        )
    wrong = problem("bundle-manifest", manifest)  # resources/schemas/bundle-manifest.schema.json
    if wrong:
        raise bad(f"'{wrong[0]}' {wrong[1]}")
    return manifest


def _line(raw: bytearray, n: int, where: str) -> dict[str, Any]:
    """One line of corrections.jsonl, checked (E106/E114 name the member and the line)."""

    def bad(reason: str):
        return err(Errors.E106, file=where, line=n, reason=reason)

    line = _json(raw, bad)
    if not isinstance(line, dict):
        raise bad("a line must be a JSON object")
    wrong = problem("bundle-correction", line)  # resources/schemas/bundle-correction.schema.json
    if wrong:
        path, what = wrong
        if what == "is missing":
            raise err(Errors.E114, file=where, line=n, field=path)
        raise bad(f"'{path}' {what}")
    text, doc = line["text"], line["document"]
    if not 0 <= doc["start"] <= doc["end"]:
        raise bad(f"document offsets {doc['start']}-{doc['end']} are out of order")
    for sp in line["final"]:
        if not sp["label"]:
            raise bad("a span in 'final' has an empty label")
        if not 0 <= sp["start"] < sp["end"] <= len(text):
            raise err(Errors.E107, file=where, line=n, start=sp["start"], end=sp["end"], length=len(text))
    return line


def bundle_records(path: str | Path) -> Iterator[DocRecord]:
    """A bundle's lines as DocRecords (one per reviewed segment), for the importer."""
    return _records(*read_bundle(path))


def _records(manifest: dict[str, Any], lines: list[dict[str, Any]]) -> Iterator[DocRecord]:
    for n, line in enumerate(lines, start=1):
        yield DocRecord(
            text=line["text"],
            spans=[Span(s["start"], s["end"], s["label"]) for s in line["final"]],
            tokens=[tuple(t) for t in line["tokens"]],
            sentences=[(0, len(line["text"]))],
            meta={
                **line["document"]["meta"],
                "bundle_id": manifest["bundle_id"],
                "bundle_project": manifest["project_id"],
                "origin_document": line["document"],
                # the guideline version it was made under: older than the project's, it is marked so
                "guideline_version": line.get("guideline_version") or manifest["guideline"].get("version"),
            },
            source=line["document"]["source"],
            line=n,
            annotator=line["annotator"],
            status=line["status"],
        )


def import_bundle(store: Store, actor: Identity, path: str | Path, *, add_labels: bool | None = None):
    """Merge a bundle into a project (a generator, like every import; one transaction).

    A segment whose original document is in this project attaches to it; any other becomes a
    document of its own. Importing the same bundle twice changes nothing; annotations by
    different annotators of the same segment are all kept, for adjudication.
    """
    from nerdesk.core.importer import import_records

    path = Path(path)
    manifest, lines = read_bundle(path)
    tiers = {line["annotator"]: line["tier"] for line in lines}  # each author's tier (the latest line's)
    records = []
    for rec in _records(manifest, lines):
        origin = rec.meta["origin_document"]
        found = store.existing_documents([origin["hash"]]) if origin["hash"] else {}
        doc = store.document(found[origin["hash"]]) if found else None
        if doc is not None and doc["text"][origin["start"] : origin["end"]] == rec.text:
            base = origin["start"]
            rec = DocRecord(
                text=doc["text"],
                spans=[Span(s.start + base, s.end + base, s.label) for s in rec.spans or []],
                meta=rec.meta,
                source=rec.source,
                line=rec.line,
                annotator=rec.annotator,
                status=rec.status,
                annotated_range=(origin["start"], origin["end"]),
            )
        records.append(rec)
    gen = import_records(
        store,
        actor,
        records,
        annotations=True,
        add_labels=add_labels,
        source=path.name,
        log={"bundle_id": manifest["bundle_id"], "bundle_project": manifest["project_id"]},
        error_file=f"{path}!{CORRECTIONS}",
    )
    return _with_tiers(store, gen, tiers, manifest)


def _with_tiers(store: Store, gen, tiers: dict[str, str], manifest: dict[str, Any]):
    """Run the import and give the annotations it brought their authors' tiers (the importer reads
    every annotation at the annotator tier), in the same transaction; the authors join the
    project's people; the bundle's send-backs land in their annotators' queues."""
    from nerdesk.core.store import review as review_store

    with store.transaction():
        result = yield from gen
        for name, tier in tiers.items():
            if tier in ("annotator", "reviewer", "expert"):
                review_store.upsert_person(store, name, tier, f"bundle {manifest['bundle_id']}")
        review_store.set_imported_tiers(store, {n: t for n, t in tiers.items() if t in ("reviewer", "expert")})
        _import_send_backs(store, manifest.get("reviews") or [])
    return result


def _import_send_backs(store: Store, reviews: list[dict[str, Any]]) -> int:
    """A send-back is recorded on the annotator's annotation here when it is the version the reviewer
    saw (the same spans); a newer local version, or one already recorded, is left alone."""
    from nerdesk.core.store import review as review_store

    n = 0
    for r in reviews:
        doc = r["document"]
        sid = review_store.segment_at(store, doc["hash"], doc["start"], doc["end"])
        if sid is None:
            continue
        ann = store.annotation(sid, r["annotator"])
        if ann is None or ann.status != "accepted":
            continue
        seen = {(sp.start - doc["start"], sp.end - doc["start"], sp.label) for sp in ann.spans}
        if seen != {(sp["start"], sp["end"], sp["label"]) for sp in r["spans"]} or review_store.has_review(
            store, sid, r["annotator"], r["reviewer"], r["created"]
        ):
            continue
        review_store.insert_review(
            store,
            {
                "segment_id": sid,
                "annotator": r["annotator"],
                "reviewed_updated": ann.updated,
                "reviewer": r["reviewer"],
                "tier": r["tier"],
                "decision": r["decision"],
                "note": r["note"],
                "created": r["created"],
            },
        )
        n += 1
    return n
