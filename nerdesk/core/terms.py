"""Term lists and patterns: pre-annotation from what experts already have, before any model knows a label.

**In.** A list is read from plain text (one term per line, the label given), CSV/TSV (``term,label[,note]``,
a header row optional) or spaCy EntityRuler / Prodigy patterns JSONL (``{"label": ..., "pattern": "..."}``
or ``{"label": ..., "pattern": [{"LOWER": ...}, ...]}``). Bad input is a coded error naming the file
and line (E300-E309), and nothing is written: a list is stored in one transaction, with its label
checked against the project (E304 unless the labels are to be added). Each change of a list (added,
terms added or removed, switched off or on) is a version with its author, time and the guideline
version then (``term_versions``).

**Matching** runs spaCy's PhraseMatcher (phrases) and Matcher (token patterns) over the project's own
tokens (the segments' stored offsets, never a new tokenisation), on a private vocabulary. Case rules per
list: case-insensitive by default (attribute LOWER) except acronyms (a term in capitals of up to
``ACRONYM_MAX`` characters, like "AT" or "DMD", keeps its case: "at" is not ataxia-telangiectasia);
``case_sensitive`` (ORTH); ``lemma`` matches base forms (NORM set to :func:`base_form`: lower case,
accents removed and, for English, plural endings stripped; a token pattern's LEMMA means the same).
Every match is stored (``term_matches``), so a term switched off or on needs no new matching; matching
is resumable per list version (``term_watermarks``): an import matches only the new segments.

**Overlaps** are resolved when read (:func:`resolve`): the longest match wins, then the earlier one, then
the older list; overlapping matches of different labels are both kept only where the project allows
overlaps.

**Merge with the model** (:func:`merge`, what the app shows, what ``export --suggestions`` writes and what
a review starts from): for each term match, the model's *competing* spans are those it overlaps (of the
same label, where overlaps are allowed). The model wins, and the term match is dropped, when the model
knows the term's label and is confident: a competing span at or above the project's
``terms_model_confidence`` (default ``MODEL_CONFIDENCE``). Otherwise the term wins: it is shown and its
competing model spans are not. Where the model predicted nothing, the term is shown (the model's silence
is not a confidence: counting a confident tag sequence as one, tried on ncbi_disease, dropped correct terms
and fell below the terms alone). A term suggestion has ``origin`` "terms" and ``source`` "terms:LIST".

**Learning from corrections** (:func:`term_stats`): on accepted segments each term's matches (resolved as
if every term were on) are hits, and a hit the reviewer kept (same start, end and label) is correct; a
term with at least ``FLAG_MIN_HITS`` hits and a precision below ``FLAG_PRECISION`` is flagged, and can be
switched off. :func:`suggest` proposes surface forms reviewers added at least N times that no list holds.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import unicodedata
from collections import Counter
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerdesk.core import labels as labelset
from nerdesk.core import settings
from nerdesk.core.errors import Errors, NerdeskError, err
from nerdesk.core.store import now
from nerdesk.core.store import terms as sql
from nerdesk.core.types import ChangeKind, Changes, Progress, Segment, ShownSpan, Span

if TYPE_CHECKING:
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity

FORMATS = ("text", "csv", "tsv", "patterns")
#: The model wins over a term where it knows the label and is at least this confident (the project's
#: setting ``terms_model_confidence`` overrides it).
MODEL_CONFIDENCE = 0.8
#: A term is flagged (mostly rejected) from this many reviewed hits with a precision below FLAG_PRECISION.
FLAG_MIN_HITS = 5
FLAG_PRECISION = 0.5
#: ``suggest``: surface forms added by reviewers at least this often.
SUGGEST_MIN_COUNT = 3
#: In a case-insensitive list, a term in capitals of at most this many characters keeps its case.
ACRONYM_MAX = 5
#: Segments per matching transaction.
MATCH_BATCH = 2000
SOURCE_PREFIX = "terms:"

_SUFFIXES = {
    ".txt": "text",
    ".lst": "text",
    ".text": "text",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "patterns",
    ".json": "patterns",
    ".ndjson": "patterns",
}
_TERM_HEADERS = {"term", "terms", "pattern", "phrase", "text", "name", "surface", "string"}
_LABEL_HEADERS = {"label", "type", "category", "entity", "class", "tag"}
_NOTE_HEADERS = {"note", "notes", "comment", "description", "source", "id", "code"}
#: Token attributes that need a trained pipeline: refused in patterns (E307).
_NEEDS_PIPELINE = {
    "POS",
    "TAG",
    "DEP",
    "MORPH",
    "ENT_TYPE",
    "ENT_IOB",
    "ENT_ID",
    "ENT_KB_ID",
    "SENT_START",
    "IS_SENT_START",
    "HEAD",
    "SPACY",
}


@dataclass(frozen=True)
class Entry:
    """One term as read: a phrase (``kind`` "phrase", ``pattern`` its text) or a Matcher token pattern
    (``kind`` "tokens", ``pattern`` its JSON)."""

    label: str
    pattern: str
    kind: str
    note: str = ""
    line: int = 0


# ---------------------------------------------------------------------------------------------- reading
def detect_format(path: Path) -> str:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt:
        return fmt
    from nerdesk.core.formats._io import iter_text_lines

    for _, line in iter_text_lines(path):
        s = line.strip()
        if s and not s.startswith("#"):
            return "patterns" if s.startswith("{") else "tsv" if "\t" in s else "text"
    return "text"


def read_list(path: str | Path, fmt: str | None = None, *, label: str | None = None) -> tuple[str, list[Entry]]:
    """(format, entries) of a term-list file. Coded errors name the file and line; duplicates are left out."""
    from nerdesk.core.formats._io import check_file

    p = check_file(path)
    if fmt is not None and fmt not in FORMATS:
        raise err(Errors.E308, fmt=fmt, formats=", ".join(FORMATS))
    fmt = fmt or detect_format(p)
    if fmt == "text":
        entries = list(_read_text(p, label))
    elif fmt in ("csv", "tsv"):
        entries = list(_read_table(p, label, "," if fmt == "csv" else "\t"))
    else:
        entries = list(_read_patterns(p, label))
    if not entries:
        raise err(Errors.E300, file=str(p))
    return fmt, entries


def _clean(term: str) -> str:
    return " ".join(term.split())


def _read_text(p: Path, label: str | None) -> Iterable[Entry]:
    from nerdesk.core.formats._io import iter_text_lines

    for lineno, line in iter_text_lines(p):
        term = _clean(line)
        if not term or term.startswith("#"):
            continue
        if not label:
            raise err(Errors.E301, file=str(p), line=lineno)
        yield Entry(label, term, "phrase", "", lineno)


def _read_table(p: Path, label: str | None, delimiter: str) -> Iterable[Entry]:
    from nerdesk.core.formats._io import read_text

    text = read_text(p)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    cols: tuple[int | None, int | None, int | None] = (0, 1, 2)  # term, label, note
    first = True
    try:
        for row in reader:
            lineno = reader.line_num
            cells = [c.strip() for c in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if first:
                first = False
                names = [c.lower() for c in cells]
                known = _TERM_HEADERS | _LABEL_HEADERS | _NOTE_HEADERS
                if any(n in _LABEL_HEADERS for n in names) or all(n in known for n in names if n):
                    lab_col, note_col = _col(names, _LABEL_HEADERS, None), _col(names, _NOTE_HEADERS, None)
                    rest = next((i for i in range(len(names)) if i not in (lab_col, note_col)), 0)
                    cols = (_col(names, _TERM_HEADERS, rest), lab_col, note_col)
                    continue
            term = _clean(cells[cols[0]]) if cols[0] is not None and cols[0] < len(cells) else ""
            if not term:
                raise err(Errors.E302, file=str(p), line=lineno, reason="the term (first column) is empty")
            lab = cells[cols[1]] if cols[1] is not None and cols[1] < len(cells) and cells[cols[1]] else label
            if not lab:
                raise err(Errors.E301, file=str(p), line=lineno)
            note = cells[cols[2]] if cols[2] is not None and cols[2] < len(cells) else ""
            yield Entry(lab, term, "phrase", note, lineno)
    except csv.Error as exc:
        raise err(
            Errors.E302,
            file=str(p),
            line=reader.line_num,
            reason=f"not valid {'CSV' if delimiter == ',' else 'TSV'} ({exc})",
        ) from None


def _col(names: list[str], wanted: set[str], default: int | None) -> int | None:
    return next((i for i, n in enumerate(names) if n in wanted), default)


def _read_patterns(p: Path, label: str | None) -> Iterable[Entry]:
    from nerdesk.core.formats._io import iter_text_lines

    for lineno, line in iter_text_lines(p):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            obj = json.loads(s)
        except ValueError as exc:
            raise err(Errors.E302, file=str(p), line=lineno, reason=f"not valid JSON ({exc})") from None
        except RecursionError:
            raise err(Errors.E302, file=str(p), line=lineno, reason="not valid JSON (nested too deeply)") from None
        if not isinstance(obj, dict):
            raise err(
                Errors.E302,
                file=str(p),
                line=lineno,
                reason=f'expected an object {{"label": ..., "pattern": ...}}, got {type(obj).__name__}',
            )
        lab = obj.get("label", label)
        if not isinstance(lab, str) or not lab.strip():
            raise err(Errors.E302, file=str(p), line=lineno, reason="'label' is missing or not a non-empty string")
        if "pattern" not in obj:
            raise err(Errors.E302, file=str(p), line=lineno, reason="'pattern' is missing")
        pat = obj["pattern"]
        note = obj.get("id", "")
        note = note if isinstance(note, str) else json.dumps(note)
        if isinstance(pat, str):
            if not _clean(pat):
                raise err(Errors.E302, file=str(p), line=lineno, reason="'pattern' is an empty string")
            yield Entry(lab.strip(), _clean(pat), "phrase", note, lineno)
        elif isinstance(pat, list):
            check_token_pattern(pat, file=str(p), line=lineno)
            yield Entry(lab.strip(), json.dumps(pat, ensure_ascii=False, sort_keys=True), "tokens", note, lineno)
        else:
            raise err(
                Errors.E302,
                file=str(p),
                line=lineno,
                reason=f"'pattern' must be a string or a list of token objects, got {type(pat).__name__}",
            )


def _matcher_class():
    from nerdesk.core._spacy import import_spacy

    import_spacy()
    from spacy.matcher import Matcher

    return Matcher


_CHECK_VOCAB: list[Any] = []


def check_token_pattern(pattern: Any, *, file: str | None = None, line: int | None = None) -> None:
    """E303 unless spaCy's Matcher takes ``pattern`` (validated against its schema); E307 for attributes
    a blank pipeline cannot give."""
    if not pattern or not all(isinstance(t, dict) for t in pattern):
        raise err(Errors.E303, file=file, line=line, reason="a token pattern is a non-empty list of objects")
    for tok in pattern:
        for attr in tok:
            if isinstance(attr, str) and attr.upper() in _NEEDS_PIPELINE:
                raise err(Errors.E307, file=file, line=line, attr=attr)
    Matcher = _matcher_class()
    if not _CHECK_VOCAB:
        from nerdesk.core._spacy import import_spacy

        _CHECK_VOCAB.append(import_spacy().vocab.Vocab())
    try:
        Matcher(_CHECK_VOCAB[0], validate=True).add("check", [pattern])
    except Exception as exc:  # noqa: BLE001 - MatchPatternError, ValueError, KeyError: all mean "not valid"
        msg = " ".join(str(exc).split())
        raise err(Errors.E303, file=file, line=line, reason=msg[:400]) from None


# ---------------------------------------------------------------------------------------------- matching
def base_form(word: str, lang: str = "en") -> str:
    """What ``lemma`` lists match on: lower case, accents removed, and (English) plural endings stripped
    ("Tumours" -> "tumour", "diseases" -> "disease", "boxes" -> "box", "classes" -> "class")."""
    w = unicodedata.normalize("NFKD", word.lower())
    w = "".join(c for c in w if not unicodedata.combining(c))
    if lang == "en" and len(w) > 3 and w.isalpha():
        if w.endswith("ies") and len(w) > 4:
            return w[:-3] + "y"
        if w.endswith(("sses", "shes", "ches", "xes", "zes")):
            return w[:-2]
        if w.endswith("s") and not w.endswith(("ss", "us", "is")):
            return w[:-1]
    return w


def is_acronym(term: str) -> bool:
    letters = [c for c in term if c.isalpha()]
    return bool(letters) and len(term) <= ACRONYM_MAX and all(c.isupper() for c in letters)


def _attr_for(term: dict[str, Any], lst: dict[str, Any]) -> str:
    if lst["case_sensitive"] or is_acronym(term["pattern"]):
        return "ORTH"
    return "NORM" if lst["lemma"] else "LOWER"


class TermMatcher:
    """spaCy matchers over the given terms; :meth:`match` takes a segment's words (its stored tokens).

    The vocabulary is private, with NORM set to :func:`base_form` for every word (what ``lemma`` lists
    and a token pattern's NORM or LEMMA match on), and only LOWER and NORM computed for a phrase-only
    matcher (a word's other lexical attributes cost four times as much, and phrases never use them)."""

    def __init__(self, terms: Sequence[dict[str, Any]], lists: dict[int, dict[str, Any]], lang: str = "en"):
        from nerdesk.core._spacy import import_spacy
        from nerdesk.core.tokenize import pipeline

        spacy = import_spacy()
        from spacy.attrs import LOWER, NORM
        from spacy.matcher import Matcher, PhraseMatcher
        from spacy.tokens import Doc
        from spacy.vocab import Vocab

        self._Doc = Doc
        self.lang = lang
        tokenizer = pipeline(lang).tokenizer  # the project's tokenisation, for phrases
        special = set(tokenizer.rules)  # "cannot" is two tokens: only these plain words are not one
        split_cache: dict[str, list[str]] = {}

        def words_of(phrase: str) -> list[str]:
            out: list[str] = []
            for piece in phrase.split():
                if piece.isalpha() and piece not in special:
                    out.append(piece)
                    continue
                ws = split_cache.get(piece)
                if ws is None:
                    ws = split_cache[piece] = [t.text for t in tokenizer(piece) if not t.is_space]
                out.extend(ws)
            return out

        groups: dict[str, dict[str, tuple[list[list[str]], list[int]]]] = {"ORTH": {}, "LOWER": {}, "NORM": {}}
        token_patterns: dict[str, tuple[list[dict], list[int]]] = {}
        for t in terms:
            lst = lists[t["list_id"]]
            if t["kind"] == "tokens":
                pat = [self._to_base_forms(tok) for tok in json.loads(t["pattern"])]
                key = "T" + json.dumps(pat, sort_keys=True)
                token_patterns.setdefault(key, (pat, []))[1].append(t["id"])
                continue
            attr = _attr_for(t, lst)
            words = words_of(t["pattern"])
            if not words:
                continue
            norm = {"ORTH": lambda w: w, "LOWER": str.lower, "NORM": lambda w: base_form(w, lang)}[attr]
            key = attr + "\x1f" + "\x1f".join(norm(w) for w in words)
            forms, ids = groups[attr].setdefault(key, ([words], []))
            ids.append(t["id"])
            # pre-tokenised corpora keep their own tokens: the phrase's words as written match those too
            plain = t["pattern"].split()
            if plain != words and plain not in forms:
                forms.append(plain)
        getters = dict(spacy.blank(lang).vocab.lex_attr_getters) if token_patterns else {LOWER: str.lower}
        if token_patterns or groups["NORM"]:
            getters[NORM] = lambda w: base_form(w, lang)
        self.vocab = Vocab(lex_attr_getters=getters)
        self.terms: dict[int, list[int]] = {}  # match key -> term ids
        self.matchers: list[Any] = []
        strings = self.vocab.strings
        for attr, group in groups.items():
            if not group:
                continue
            pm = PhraseMatcher(self.vocab, attr=attr)
            for key, (forms, ids) in group.items():
                pm.add(key, [Doc(self.vocab, words=words) for words in forms])
                self.terms[strings[key]] = ids
            self.matchers.append(pm)
        if token_patterns:
            m = Matcher(self.vocab)
            for key, (pat, ids) in token_patterns.items():
                m.add(key, [pat])
                self.terms[strings[key]] = ids
            self.matchers.append(m)
        self.size = len(terms)

    def _to_base_forms(self, tok: dict[str, Any]) -> dict[str, Any]:
        """A token pattern's LEMMA and NORM values as base forms (LEMMA becomes NORM: a blank pipeline
        has no lemmas)."""
        out = {}
        for k, v in tok.items():
            if str(k).upper() in ("LEMMA", "NORM"):
                k = "NORM"
                if isinstance(v, str):
                    v = base_form(v, self.lang)
                elif isinstance(v, dict):
                    v = {
                        op: (
                            [base_form(x, self.lang) if isinstance(x, str) else x for x in vals]
                            if isinstance(vals, list) and op.upper() in ("IN", "NOT_IN")
                            else vals
                        )
                        for op, vals in v.items()
                    }
            out[k] = v
        return out

    def match(self, words: list[str]) -> list[tuple[int, int, int]]:
        """(term id, first token, end token) of every match in these words."""
        if not self.matchers or not words:
            return []
        doc = self._Doc(self.vocab, words=words)
        out = []
        terms = self.terms
        for m in self.matchers:
            for key, s, e in m(doc):
                for tid in terms[key]:
                    out.append((tid, s, e))
        return out


_CACHE_LOCK = threading.Lock()
_CACHE: dict[tuple, TermMatcher] = {}


def _matcher_for(terms: list[dict[str, Any]], lists: dict[int, dict[str, Any]], lang: str) -> TermMatcher:
    """A matcher for these terms; the last one built is kept (a 100,000-term list takes seconds to compile,
    and every import needs it). The key is the terms themselves and the rules of their lists."""
    rules = {i: (lst["case_sensitive"], lst["lemma"]) for i, lst in lists.items()}
    key = (lang, tuple((t["id"], t["kind"], t["pattern"], rules[t["list_id"]]) for t in terms))
    with _CACHE_LOCK:
        found = _CACHE.get(key)
    if found is not None:
        return found
    m = TermMatcher(terms, lists, lang)
    with _CACHE_LOCK:
        _CACHE.clear()
        _CACHE[key] = m
    return m


def match_segments(matcher: TermMatcher, segs: Iterable[Segment]) -> list[tuple[int, int, int, int]]:
    """(segment id, term id, start, end) in document characters, for segments read with their text
    (:meth:`Store.segments_with_text`)."""
    rows = []
    for seg in segs:
        flat, base = seg.tokens.flat, seg.start
        for tid, s, e in matcher.match(seg.words()):
            rows.append((seg.id, tid, base + flat[2 * s], base + flat[2 * e - 1]))
    return rows


def match_project(store: Store, *, batch: int = MATCH_BATCH) -> Generator[Progress, None, int]:
    """Match every list version's terms in the segments it has not seen (resumable; each batch
    commits). Returns the number of segments matched (counted once per pass)."""
    if not sql.has_lists(store):
        return 0
    top = sql.max_segment_id(store)
    marks = sql.watermarks(store)
    pending = [m for m in marks if m[2] < top]
    if not pending:
        return 0
    total = sql.count_segments_after(store, min(m[2] for m in pending))
    done = 0
    yield Progress(0, total, "matching term lists")
    while True:
        marks = sql.watermarks(store)
        pending = [m for m in marks if m[2] < top]
        if not pending:
            break
        lo = min(m[2] for m in pending)
        group = [(lid, v) for lid, v, upto in marks if upto == lo]
        hi = min((upto for _, _, upto in marks if upto > lo), default=top)
        terms = sql.terms_of_versions(store, group)
        lists = {lst["id"]: lst for lst in sql.lists(store)}
        matcher = _matcher_for(terms, lists, settings.lang(store)) if terms else None
        last = lo
        while True:
            ids = sql.segment_ids_after(store, last, hi, batch)
            if not ids:
                break
            rows = match_segments(matcher, store.segments_with_text(ids)) if matcher else []
            with store.transaction():
                sql.insert_matches(store, rows)
                sql.set_watermarks(store, group, ids[-1])
            last = ids[-1]
            if hi == top:  # the last pass covers what earlier passes counted too: count each segment once
                done = min(total, done + len(ids))
            yield Progress(done, total, "matching term lists")
        with store.transaction():
            sql.set_watermarks(store, group, hi)
    return total


# ---------------------------------------------------------------------------------------------- overlaps and merge
def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def resolve(matches: Iterable[dict[str, Any]], allow_overlaps: bool) -> list[dict[str, Any]]:
    """The matches to suggest: longest first, then the earliest, then the older list and term; a match
    overlapping a kept one is dropped (only one of the same label, where the project allows overlaps;
    never one of the same extent)."""
    kept: list[dict[str, Any]] = []
    for m in sorted(matches, key=lambda m: (m["start"] - m["end"], m["start"], m["list_id"], m["term_id"])):
        if any(
            _overlap(m, k)
            and (not allow_overlaps or k["label"] == m["label"] or (k["start"], k["end"]) == (m["start"], m["end"]))
            for k in kept
        ):
            continue
        kept.append(m)
    return sorted(kept, key=lambda m: (m["start"], m["end"]))


def conflicts(matches: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs of matches of different labels over overlapping text (for routing: review those first)."""
    ms = list(matches)
    return [(a, b) for i, a in enumerate(ms) for b in ms[i + 1 :] if a["label"] != b["label"] and _overlap(a, b)]


def term_span(m: dict[str, Any]) -> ShownSpan:
    """A resolved match as a suggested span (the shape of :meth:`Project.segment`'s spans)."""
    return ShownSpan(
        m["start"],
        m["end"],
        m["label"],
        None,
        "terms",
        SOURCE_PREFIX + m["list"],
        term_id=m["term_id"],
        term=m["pattern"],
    )


def merge(
    model_spans: Sequence[ShownSpan],
    term_spans: Sequence[ShownSpan],
    *,
    known: set[str],
    threshold: float = MODEL_CONFIDENCE,
    allow_overlaps: bool = False,
) -> list[ShownSpan]:
    """The suggestions to show: the model's spans and the terms', by the rule in this module's docstring."""
    model = list(model_spans)
    dropped: set[int] = set()
    shown_terms = []
    for t in term_spans:
        competing = [
            i
            for i, m in enumerate(model)
            if m.start < t.end and t.start < m.end and (not allow_overlaps or m.label == t.label)
        ]
        if t.label in known and any((model[i].confidence or 0.0) >= threshold for i in competing):
            continue  # the model knows the label and is confident here: it wins
        dropped.update(competing)
        shown_terms.append(t)
    out = [m for i, m in enumerate(model) if i not in dropped] + shown_terms
    return sorted(out, key=Span.key)


def model_confidence(store: Store) -> float:
    return float(store.get_setting("terms_model_confidence", MODEL_CONFIDENCE))


def known_labels(store: Store) -> set[str]:
    """Labels the active model predicts (of the project's): where the model can win over a term."""
    model_id = store.active_model_id()
    if model_id is None:
        return set()
    row = next((m for m in store.models() if m["id"] == model_id), None)
    return set(row["labels"]) if row else set()


def attach_suggestions(store: Store, segments: list[Segment]) -> None:
    """Give each segment without an annotation the merged suggestions (model and terms) as ``spans``,
    and ``term_matches`` (the resolved matches). Cheap when the project has no list."""
    if not segments or not sql.has_lists(store):
        return
    ids = [s.id for s in segments]
    found = sql.matches_for(store, ids)
    if not found:
        return
    known = known_labels(store)
    threshold = model_confidence(store)
    overlaps = settings.allow_overlaps(store)
    for s in segments:
        ms = found.get(s.id)
        if not ms:
            continue
        resolved = resolve(ms, overlaps)
        s.term_matches = resolved
        if s.annotation is not None:
            continue
        model = [sp for sp in s.spans if sp.origin == "model"]
        s.spans = merge(
            model, [term_span(m) for m in resolved], known=known, threshold=threshold, allow_overlaps=overlaps
        )


# ---------------------------------------------------------------------------------------------- the service
class TermLists:
    """What a user does with term lists, for the CLI and the app (``project.terms``)."""

    def __init__(self, store: Store, actor: Identity):
        self.store, self.actor = store, actor

    # ----------------------------------------------------------------- reading
    def lists(self) -> list[dict[str, Any]]:
        return sql.lists(self.store)

    def get(self, ref: int | str) -> dict[str, Any]:
        """A list by id or name (E305)."""
        rows = sql.lists(self.store)
        lst = None
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            lst = next((x for x in rows if x["id"] == int(ref)), None)
        if lst is None:
            lst = next((x for x in rows if x["name"] == str(ref)), None)
        if lst is None:
            names = ", ".join(f"{x['id']} {x['name']}" for x in rows) or "(none)"
            raise err(Errors.E305, ref=ref, lists=names)
        return lst

    def terms(self, ref: int | str | None = None) -> list[dict[str, Any]]:
        ids = None if ref is None else [self.get(ref)["id"]]
        return sql.terms(self.store, ids)

    def history(self, ref: int | str | None = None) -> list[dict[str, Any]]:
        if ref is None:
            return sql.versions(self.store)
        try:
            lid = self.get(ref)["id"]
        except NerdeskError:
            if not (isinstance(ref, int) or str(ref).isdigit()):
                rows = [v for v in sql.versions(self.store) if v["list_name"] == ref]
                if rows:
                    return rows
            raise
        return sql.versions(self.store, lid)

    # ----------------------------------------------------------------- adding
    def add_file(
        self,
        path: str | Path,
        *,
        label: str | None = None,
        fmt: str | None = None,
        name: str | None = None,
        case_sensitive: bool = False,
        lemma: bool = False,
        add_labels: bool = False,
    ) -> dict[str, Any]:
        """Read a term-list file and store it (one transaction; nothing on an error). ``name``: the list's
        name (default: the file's stem); an existing list of that name gets the new terms as its next
        version. Returns the list with ``added`` and ``duplicates``. Match with :meth:`match`."""
        fmt, entries = read_list(path, fmt, label=label)
        return self.add_entries(
            entries,
            name=name or Path(path).stem,
            source=Path(path).name,
            fmt=fmt,
            case_sensitive=case_sensitive,
            lemma=lemma,
            add_labels=add_labels,
            file=str(path),
        )

    def add_entries(
        self,
        entries: Sequence[Entry],
        *,
        name: str,
        source: str = "",
        fmt: str = "text",
        case_sensitive: bool = False,
        lemma: bool = False,
        add_labels: bool = False,
        file: str | None = None,
    ) -> dict[str, Any]:
        store = self.store
        if not entries:
            raise err(Errors.E300, file=file)
        with store.transaction():
            labels = settings.label_names(store)
            unknown = [e for e in entries if e.label not in labels]
            added_labels: list[str] = []
            if unknown:
                if not add_labels:
                    e = unknown[0]
                    raise err(
                        Errors.E304, file=file, line=e.line or None, label=e.label, labels=", ".join(labels) or "(none)"
                    )
                added_labels = labelset.add_labels(store, self.actor, [e.label for e in unknown])
            g = store.guideline()
            gv = g["version"] if g else None
            ts = now()
            lst = sql.list_by_name(store, name)
            if lst is None:
                list_id = sql.insert_list(
                    store,
                    name=name,
                    source=source,
                    fmt=fmt,
                    case_sensitive=case_sensitive,
                    lemma=lemma,
                    guideline_version=gv,
                    author=self.actor.user,
                    ts=ts,
                )
                version, action, existing = 1, "add list", set()
            else:
                if (lst["case_sensitive"], lst["lemma"]) != (case_sensitive, lemma):
                    rules = ("case-sensitive" if lst["case_sensitive"] else "case-insensitive") + (
                        ", matching base forms" if lst["lemma"] else ""
                    )
                    raise err(Errors.E309, file=file, name=name, case=rules)
                list_id = lst["id"]
                version = sql.bump_version(store, list_id, ts=ts, guideline_version=gv)
                action, existing = "add terms", sql.existing_patterns(store, list_id)
            rows, dups = _dedupe(entries, existing, case_sensitive)
            sql.insert_terms(store, list_id, version, rows)
            sql.add_watermark(store, list_id, version)
            sql.log_version(
                store,
                list_id=list_id,
                name=name,
                version=version,
                action=action,
                author=self.actor.user,
                ts=ts,
                guideline_version=gv,
                detail={
                    "terms": len(rows),
                    "duplicates": dups,
                    "source": source,
                    "format": fmt,
                    "labels_added": added_labels,
                },
            )
        out = dict(sql.list_by_id(store, list_id) or {}, added=len(rows), duplicates=dups, labels_added=added_labels)
        return out

    def match(self) -> Generator[Progress, None, int]:
        """Match what has not been matched (every list version, every segment): after an add, after an import."""
        return match_project(self.store)

    # ----------------------------------------------------------------- changing
    def remove(self, ref: int | str, term_ids: Sequence[int] = ()) -> Changes:
        """Remove a list (its terms and matches; its history stays), or some of its terms: a version."""
        store = self.store
        with store.transaction():
            lst = self.get(ref)
            ts = now()
            gv = (store.guideline() or {}).get("version")
            if term_ids:
                self._own_terms(lst, term_ids)
                sql.delete_terms(store, list(term_ids))
                version = sql.bump_version(store, lst["id"], ts=ts, guideline_version=gv)
                sql.log_version(
                    store,
                    list_id=lst["id"],
                    name=lst["name"],
                    version=version,
                    action="remove terms",
                    author=self.actor.user,
                    ts=ts,
                    guideline_version=gv,
                    detail={"terms": list(term_ids)},
                )
            else:
                sql.delete_list(store, lst["id"])
                sql.log_version(
                    store,
                    list_id=lst["id"],
                    name=lst["name"],
                    version=lst["version"] + 1,
                    action="remove list",
                    author=self.actor.user,
                    ts=ts,
                    guideline_version=gv,
                    detail={"terms": lst["terms"]},
                )
        return Changes(ChangeKind.TERMS, models=True, action="remove term list" if not term_ids else "remove terms")

    def set_enabled(
        self, ref: int | str, enabled: bool, term_ids: Sequence[int] = (), flagged: bool = False
    ) -> Changes:
        """Switch a list, some of its terms, or (``flagged``) its flagged terms off or on: a version."""
        store = self.store
        ids = list(term_ids)
        if flagged:
            lst = self.get(ref)
            ids += [tid for tid, st in term_stats(self.store).items() if st["flagged"] and st["list_id"] == lst["id"]]
        with store.transaction():
            lst = self.get(ref)
            ts = now()
            gv = (store.guideline() or {}).get("version")
            if ids:
                self._own_terms(lst, ids)
                sql.set_terms_enabled(store, ids, enabled)
            elif flagged:
                return Changes(ChangeKind.TERMS, action="no flagged term")
            else:
                sql.set_list_enabled(store, lst["id"], enabled)
            version = sql.bump_version(store, lst["id"], ts=ts, guideline_version=gv)
            what = "terms" if ids else "list"
            sql.log_version(
                store,
                list_id=lst["id"],
                name=lst["name"],
                version=version,
                action=f"{'enable' if enabled else 'disable'} {what}",
                author=self.actor.user,
                ts=ts,
                guideline_version=gv,
                detail={"terms": ids} if ids else {},
            )
        return Changes(ChangeKind.TERMS, models=True, action=f"{'enable' if enabled else 'disable'} term {what}")

    def _own_terms(self, lst: dict[str, Any], term_ids: Sequence[int]) -> None:
        found = sql.terms_by_id(self.store, list(term_ids))
        for tid in term_ids:
            if tid not in found or found[tid]["list_id"] != lst["id"]:
                raise err(Errors.E306, term=tid, name=lst["name"])

    def set_model_confidence(self, value: float) -> None:
        with self.store.transaction():
            self.store.set_setting("terms_model_confidence", float(value))

    # ----------------------------------------------------------------- learning from corrections
    def stats(self) -> dict[int, dict[str, Any]]:
        return term_stats(self.store)

    def report(self, *, all_terms: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        """Each list with its hit counts and precision on reviewed segments, and its terms (those with a
        reviewed hit or flagged, or every one with ``all_terms``), flagged first, then most hits, most
        matches; at most ``limit`` per list (``term_rows_total`` says how many there were)."""
        stats = term_stats(self.store)
        totals = sql.hit_counts(self.store)
        out = []
        for lst in sql.lists(self.store):
            rows = []
            for t in sql.terms(self.store, [lst["id"]]):
                st = stats.get(t["id"], {"hits": 0, "correct": 0, "precision": None, "flagged": False})
                if all_terms or st["hits"] or st["flagged"]:
                    rows.append(
                        {
                            **t,
                            "matches": totals.get(t["id"], 0),
                            "hits": st["hits"],
                            "correct": st["correct"],
                            "precision": st["precision"],
                            "flagged": st["flagged"],
                        }
                    )
            rows.sort(key=lambda r: (not r["flagged"], -r["hits"], -r["matches"], r["id"]))
            total_rows = len(rows)
            if limit is not None:
                rows = rows[:limit]
            hits = sum(st["hits"] for st in stats.values() if st["list_id"] == lst["id"])
            correct = sum(st["correct"] for st in stats.values() if st["list_id"] == lst["id"])
            out.append(
                {
                    **lst,
                    "matches": _list_matches(self.store, lst["id"], totals),
                    "hits": hits,
                    "correct": correct,
                    "precision": correct / hits if hits else None,
                    "flagged": sum(1 for st in stats.values() if st["list_id"] == lst["id"] and st["flagged"]),
                    "term_rows": rows,
                    "term_rows_total": total_rows,
                }
            )
        return out

    def suggest(self, min_count: int = SUGGEST_MIN_COUNT) -> list[dict[str, Any]]:
        return suggest(self.store, min_count)

    def add_suggestions(self, name: str, min_count: int = SUGGEST_MIN_COUNT) -> dict[str, Any]:
        """Add the suggested terms to the list ``name`` (its next version), or to a new list of that name."""
        rows = self.suggest(min_count)
        if not rows:
            raise err(Errors.E300, file=f"suggestions (seen at least {min_count} times)")
        lst = sql.list_by_name(self.store, name)
        rules = {"case_sensitive": lst["case_sensitive"], "lemma": lst["lemma"]} if lst else {}
        return self.add_entries(
            [Entry(r["label"], r["text"], "phrase", f"suggested: added {r['count']} times") for r in rows],
            name=name,
            source="suggestions",
            fmt="suggested",
            **rules,
        )


def _list_matches(store, list_id: int, totals: dict[int, int]) -> int:
    return sum(totals.get(t["id"], 0) for t in sql.terms(store, [list_id]))


def _dedupe(
    entries: Sequence[Entry], existing: set[tuple[str, str, str]], case_sensitive: bool
) -> tuple[list[tuple[str, str, str, str, int]], int]:
    """Rows to insert, leaving out repeats (in the file, or already in the list); a case-insensitive list
    counts "Cancer" and "cancer" as one (acronyms excepted)."""

    def key(label: str, kind: str, pattern: str) -> tuple[str, str, str]:
        if kind == "phrase" and not case_sensitive and not is_acronym(pattern):
            pattern = pattern.lower()
        return label, kind, pattern

    seen = {key(*e) for e in existing}
    rows = []
    dups = 0
    for e in entries:
        k = key(e.label, e.kind, e.pattern)
        if k in seen:
            dups += 1
            continue
        seen.add(k)
        rows.append((e.label, e.pattern, e.kind, e.note, e.line))
    return rows, dups


def term_stats(store: Store) -> dict[int, dict[str, Any]]:
    """Per term with a match in an accepted segment: hits, correct (kept by the reviewer), precision,
    flagged (mostly rejected), list id. Matches are resolved as if every term were on, so switching one
    off changes no other term's figures."""
    hits: Counter = Counter()
    correct: Counter = Counter()
    owner: dict[int, int] = {}
    overlaps = settings.allow_overlaps(store)
    for _sid, _text, _start, final, matches in sql.reviewed_matches(store):
        keys = {sp.key() for sp in final}
        for m in resolve(matches, overlaps):
            tid = m["term_id"]
            owner[tid] = m["list_id"]
            hits[tid] += 1
            correct[tid] += (m["start"], m["end"], m["label"]) in keys
    out = {}
    for tid, n in hits.items():
        prec = correct[tid] / n
        out[tid] = {
            "hits": n,
            "correct": correct[tid],
            "precision": prec,
            "list_id": owner[tid],
            "flagged": n >= FLAG_MIN_HITS and prec < FLAG_PRECISION,
        }
    return out


def suggest(store: Store, min_count: int = SUGGEST_MIN_COUNT) -> list[dict[str, Any]]:
    """Surface forms reviewers added (spans of origin "human" in accepted segments) at least ``min_count``
    times that no list's phrase matches (compared in lower case), with the label they were given, most
    frequent first."""
    listed = {(t["label"], t["pattern"].lower()) for t in sql.terms(store) if t["kind"] == "phrase"}
    counts: Counter = Counter()
    forms: dict[tuple[str, str], Counter] = {}
    for text, start, spans in sql.human_spans(store):
        for sp in spans:
            if sp.origin != "human":
                continue
            surface = _clean(text[sp.start - start : sp.end - start])
            if not surface:
                continue
            k = (sp.label, surface.lower())
            if k in listed:
                continue
            counts[k] += 1
            forms.setdefault(k, Counter())[surface] += 1
    out = [
        {"text": forms[k].most_common(1)[0][0], "label": k[0], "count": n} for k, n in counts.items() if n >= min_count
    ]
    out.sort(key=lambda r: (-r["count"], r["label"], r["text"].lower()))
    return out


# ---------------------------------------------------------------------------------------------- routing
def routing_labels(store: Store, status: str) -> list[str]:
    """Labels routing starts from term hits for: those no model knows (the active model cannot predict
    them, or there is no model) that a term of an enabled list matches in a segment of this status.
    [] when the project has no list."""
    if not sql.has_lists(store):
        return []
    model_id = store.active_model_id()
    known = known_labels(store) if model_id is not None else set()
    if model_id is not None and not known:  # imported predictions: no label set to be blind with
        return []
    unknown = [lab for lab in settings.label_names(store) if lab not in known]
    return [lab for lab in unknown if sql.has_hits(store, status, lab)]


def hit_segments(store: Store, status: str, labels: Sequence[str], limit: int, seed: int) -> list[int]:
    return sql.segments_with_hits(store, status, labels, limit, seed)


def routing_scores(
    store: Store, cands: Sequence[dict[str, Any]], labels: Sequence[str], seed: int
) -> dict[int, tuple[float, list[str]]]:
    """Candidates with a term hit of ``labels`` first: conflicting matches (different labels over the same
    text) first of all, then hits of terms with few reviewed hits (rare terms: least known); the rest in a
    seeded random order below them."""
    import random

    rng = random.Random(seed)
    ids = [c["id"] for c in cands]
    found = sql.matches_for(store, ids)
    stats = term_stats(store)
    wanted = set(labels)
    out: dict[int, tuple[float, list[str]]] = {}
    for c in cands:
        ms = [m for m in found.get(c["id"], []) if m["label"] in wanted]
        if not ms:
            out[c["id"]] = (rng.random() * 0.5, ["random (no term hit)"])
            continue
        clash = conflicts(found.get(c["id"], []))
        kept = resolve(ms, settings.allow_overlaps(store))
        rarity = max(1.0 / (1.0 + stats.get(m["term_id"], {}).get("hits", 0)) for m in kept)
        score = 1.0 + (1.0 if clash else 0.0) + 0.5 * rarity + 0.01 * rng.random()
        first = kept[0]
        base = c.get("start", 0)
        surface = c["text"][first["start"] - base : first["end"] - base] if "start" in c else first["pattern"]
        reasons = [f"term hit: '{surface}' {first['label']} (list {first['list']})"]
        if clash:
            a, b = clash[0]
            reasons.insert(0, f"conflicting terms: {a['pattern']} as {a['label']} / {b['pattern']} as {b['label']}")
        if rarity >= 0.5:
            reasons.append("rare term: " + ("no reviewed hit yet" if rarity == 1.0 else "1 reviewed hit"))
        out[c["id"]] = (score, reasons)
    return out
