"""Term lists (issue 18): matching speed, and day zero on ncbi_disease.

    .venv/bin/python bench/terms_bench.py [--data ../shared/data] [--segments 1000000] [--terms 100000]
        [--skip-speed] [--skip-ncbi] [--no-finetune] [--threads 2] [--json out.json]

**Speed.** A project of ``--segments`` sentences (those of ../shared/data repeated; repetition k > 0
appends the token "·k" so that each is a new document, as bench/import_bench.py does), a list of
``--terms`` terms (5% multiword gold entity surface forms of the corpora, the rest random two- and
three-word combinations of their vocabulary: many terms, few of them hitting, as a terminology does). Reported: the time to add the list (read, check, store), to compile
spaCy's matchers, to match every segment (segments/s), to show a page of 50 segments with their merged
suggestions, to route with term hits, and to match an import of 10,000 new segments.

**ncbi_disease.** A term list of the 200 most frequent Disease surface forms (case-insensitive) of the
TRAIN split. Day-zero exact F1 on TEST: the terms alone, and merged with the shipped model in a project
with its labels and Disease (the model does not know Disease, so by the merge rule the terms win where
they overlap). Then an oracle reviews the first 100 segments of the DEV split (which the list never saw)
as the app routes them (blend), once with the list and once without: edit actions per segment (the same
count as nerdesk.core.categorize.edit_actions: add, delete, relabel, move a boundary, accept) against
what was shown. Without --no-finetune, en-base is fine-tuned on each run's 100 reviewed segments and
scored on TEST alone and merged with the terms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_bench import corpus  # noqa: E402  (every sentence of ../shared/data)

from nerdesk.core import terms as T  # noqa: E402
from nerdesk.core.categorize import edit_actions  # noqa: E402
from nerdesk.core.formats import jsonl  # noqa: E402
from nerdesk.core.project import Project  # noqa: E402
from nerdesk.core.routing import route  # noqa: E402
from nerdesk.core.store import terms as sql  # noqa: E402
from nerdesk.core.types import DocRecord, Span, drain  # noqa: E402


def log(msg: str) -> None:
    print(msg, flush=True)


def offsets(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    pos, out = 0, []
    for t in tokens:
        out.append((pos, pos + len(t)))
        pos += len(t) + 1
    return " ".join(tokens), out


def gold_surfaces(sents: list[dict]) -> list[str]:
    out = []
    for s in sents:
        toks, tags = s["tokens"], s["tags"]
        i = 0
        while i < len(tags):
            if tags[i].startswith("B-"):
                j = i + 1
                while j < len(tags) and tags[j].startswith("I-"):
                    j += 1
                out.append(" ".join(toks[i:j]))
                i = j
            else:
                i += 1
    return out


# ------------------------------------------------------------------------------------------ speed
def bench_speed(data: Path, n_segments: int, n_terms: int, work: Path) -> dict:
    base = corpus(data)
    log(f"speed: {len(base):,} distinct sentences, repeated to {n_segments:,}")
    path = work / "speed.nerdesk"
    p = Project.create(path, labels=["Term"])

    def records(n, offset=0):
        for i in range(offset, offset + n):
            rep, k = divmod(i, len(base))
            toks = base[k]["tokens"] + ([f"·{rep}"] if rep else [])
            text, offs = offsets(toks)
            yield DocRecord(text, None, offs, [(0, len(text))])

    t = time.perf_counter()
    drain(p.import_records(records(n_segments)))
    t_import = time.perf_counter() - t
    n_seg = p.store.counts()["segments"]
    log(f"  imported {n_seg:,} segments in {t_import:.1f} s (the import itself, for scale)")
    # the list: multiword gold surface forms of the corpora (5% of it: the terms that hit), the rest random
    # two- and three-word combinations of their vocabulary (a terminology's long tail, which rarely hits)
    rng = random.Random(0)
    gold = sorted({s.lower() for s in gold_surfaces(base) if len(s.split()) > 1 and any(c.isalpha() for c in s)})
    rng.shuffle(gold)
    terms: dict[str, None] = dict.fromkeys(gold[: n_terms // 20])
    n_gold = len(terms)
    vocab = sorted({w.lower() for s in base for w in s["tokens"] if w.isalpha() and len(w) > 2})
    while len(terms) < n_terms:
        terms[" ".join(rng.choice(vocab) for _ in range(rng.randint(2, 3)))] = None
    terms_list = list(terms)[:n_terms]
    tfile = work / "terms100k.txt"
    tfile.write_text("\n".join(terms_list) + "\n", encoding="utf-8")
    log(
        f"  term list: {len(terms_list):,} terms ({n_gold:,} multiword gold surface forms of the corpora, the rest "
        "random two- and three-word combinations of their vocabulary)"
    )
    t = time.perf_counter()
    res = p.terms.add_file(tfile, label="Term", name="big")
    t_add = time.perf_counter() - t
    log(f"  add the list (read, check, store {res['added']:,} terms): {t_add:.2f} s")
    store = p.store
    lists = {x["id"]: x for x in sql.lists(store)}
    stored = sql.terms_of_versions(store, [(res["id"], 1)])
    t = time.perf_counter()
    T._matcher_for(stored, lists, p.lang)
    t_compile = time.perf_counter() - t
    log(f"  compile spaCy's PhraseMatcher for them: {t_compile:.2f} s")
    t = time.perf_counter()
    drain(p.terms.match())
    t_match = time.perf_counter() - t
    n_matches = store.conn.execute("SELECT COUNT(*) FROM term_matches").fetchone()[0]
    n_hit = store.conn.execute("SELECT COUNT(DISTINCT segment_id) FROM term_matches").fetchone()[0]
    log(
        f"  match every segment: {t_match:.1f} s = {n_seg / t_match:,.0f} segments/s "
        f"({n_matches:,} matches in {n_hit:,} segments, stored)"
    )
    ids = [r[0] for r in store.conn.execute("SELECT id FROM segments ORDER BY id")]
    pages = []
    for _ in range(20):
        start = rng.randrange(0, len(ids) - 50)
        t = time.perf_counter()
        p.segments(ids[start : start + 50])
        pages.append(time.perf_counter() - t)
    log(f"  a page of 50 segments with merged suggestions: median {statistics.median(pages) * 1000:.1f} ms")
    t = time.perf_counter()
    items = route(p.store, "mnlp", 50)
    t_route = time.perf_counter() - t
    log(f"  route 50 (term hits first, no model): {t_route:.2f} s; first: {items[0].reasons[0] if items else '-'}")
    T._CACHE.clear()  # a new process: the matcher is compiled again
    t = time.perf_counter()
    drain(p.import_records(records(10_000, offset=n_segments)))
    t_imp = time.perf_counter() - t
    t = time.perf_counter()
    n_new = drain(T.match_project(p.store))
    t_new = time.perf_counter() - t
    log(f"  an import of {n_new:,} new segments ({t_imp:.1f} s) is matched in {t_new:.2f} s (compile included)")
    size = path.stat().st_size
    p.close()
    return {
        "segments": n_seg,
        "terms": len(terms_list),
        "import_s": t_import,
        "add_s": t_add,
        "compile_s": t_compile,
        "match_s": t_match,
        "segments_per_s": n_seg / t_match,
        "matches": n_matches,
        "segments_with_hits": n_hit,
        "page50_ms": statistics.median(pages) * 1000,
        "route_s": t_route,
        "import10k_match_s": t_new,
        "project_mb": size / 1e6,
    }


# ------------------------------------------------------------------------------------------ ncbi
def prf(tp: int, npred: int, ngold: int) -> dict:
    p = tp / npred if npred else 0.0
    r = tp / ngold if ngold else 0.0
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "tp": tp,
        "predicted": npred,
        "gold": ngold,
    }


def project_of(path: Path, recs: list[DocRecord], labels: list[str], user: str = "oracle") -> Project:
    p = Project.create(path, labels=labels, user=user)
    drain(p.import_records([DocRecord(r.text, None, r.tokens, r.sentences) for r in recs]))
    return p


def suggestions_f1(p: Project, gold_by_text: dict[str, list[Span]], label: str = "Disease") -> dict:
    """Exact F1 of what the project suggests now (merged), on ``label``."""
    tp = npred = ngold = 0
    ids = [r[0] for r in p.store.conn.execute("SELECT id FROM segments ORDER BY id")]
    for i in range(0, len(ids), 500):
        for seg in p.segments(ids[i : i + 500]):
            doc = p.store.document(seg.doc_id)
            gold = {
                (s.start, s.end)
                for s in gold_by_text[doc["text"]]
                if s.label == label and seg.start <= s.start < seg.end
            }
            pred = {(sp.start, sp.end) for sp in seg.spans if sp.label == label}
            tp += len(gold & pred)
            npred += len(pred)
            ngold += len(gold)
    return prf(tp, npred, ngold)


def review(p: Project, gold_by_text: dict[str, list[Span]], n: int, batch: int = 25) -> list[dict]:
    """An oracle reviews ``n`` segments in the app's order (blend, routed again every ``batch``): the edit
    actions from what was shown to the gold spans, per segment."""
    out = []
    while len(out) < n:
        items = route(p.store, "blend", min(batch, n - len(out)), seed=len(out))
        if not items:
            break
        for it in items:
            seg = p.segment(it.id)
            doc = p.store.document(seg.doc_id)
            gold = [s for s in gold_by_text[doc["text"]] if seg.start <= s.start < seg.end]
            shown = [Span(sp.start, sp.end, sp.label) for sp in seg.spans]
            terms_shown = [Span(m["start"], m["end"], m["label"]) for m in seg.term_matches]
            if sorted(s.key() for s in shown) != sorted(s.key() for s in gold):
                p.set_spans(it.id, gold, action="oracle")
            p.accept(it.id)
            out.append(
                {
                    "id": it.id,
                    "actions": edit_actions(shown, gold),
                    "scratch": edit_actions([], gold),
                    "entities": len(gold),
                    "term_hit": bool(terms_shown),
                    "reasons": it.reasons,
                }
            )
    return out


def with_terms_on(p: Project, segs: list[int], gold_by_text, terms_file: Path) -> float:
    """Mean edit actions the term list's suggestions would have needed on these (reviewed) segments."""
    acts = []
    for sid in segs:
        seg = p.segment(sid)
        doc = p.store.document(seg.doc_id)
        gold = [s for s in gold_by_text[doc["text"]] if seg.start <= s.start < seg.end]
        sugg = T.resolve(seg.term_matches, p.allow_overlaps)
        acts.append(edit_actions([Span(m["start"], m["end"], m["label"]) for m in sugg], gold))
    return statistics.mean(acts)


def finetune_and_score(p: Project, work: Path, name: str, test_path: Path, threads: int) -> tuple[Path, float]:
    from nerdesk.core.bundle import write_bundle
    from nerdesk.core.model import load_model
    from nerdesk.core.model.data import load_records
    from nerdesk.core.model.evaluate import evaluate
    from nerdesk.train.finetune import finetune_iter

    bundle = work / f"{name}.zip"
    write_bundle(p.store, p.identity, bundle)
    out = work / f"{name}-model"
    t = time.perf_counter()
    drain(finetune_iter([bundle], out, threads=threads, quantize=False, log=lambda s: None))
    model = load_model(out)
    f1 = evaluate(model, load_records(test_path, {}))["exact"]["f1"]
    log(f"    fine-tuned on {name}'s 100 segments in {time.perf_counter() - t:.0f} s: test F1 {f1:.3f} (model alone)")
    return out, f1


def bench_ncbi(data: Path, work: Path, finetune: bool, threads: int, n_review: int = 100, top: int = 200) -> dict:
    d = data / "adapt" / "ncbi_disease"
    train = list(jsonl.read(d / "train.jsonl"))
    test = list(jsonl.read(d / "test.jsonl"))
    dev = list(jsonl.read(d / "dev.jsonl"))
    forms: Counter = Counter()
    casing: dict[str, Counter] = {}
    for r in train:
        for s in r.spans or []:
            surface = r.text[s.start : s.end]
            forms[surface.lower()] += 1
            casing.setdefault(surface.lower(), Counter())[surface] += 1
    top_forms = [casing[f].most_common(1)[0][0] for f, _ in forms.most_common(top)]
    tfile = work / "ncbi_top200.txt"
    tfile.write_text("\n".join(top_forms) + "\n", encoding="utf-8")
    log(
        f"ncbi_disease: term list of the {len(top_forms)} most frequent TRAIN surface forms "
        f"({sum(forms[f.lower()] for f in top_forms):,} of {sum(forms.values()):,} train mentions); "
        f"first: {', '.join(top_forms[:6])}"
    )
    gold_test = {r.text: list(r.spans or []) for r in test}
    gold_dev = {r.text: list(r.spans or []) for r in dev}
    out: dict = {"terms": len(top_forms)}
    # day zero on TEST: terms alone
    p = project_of(work / "test_terms.nerdesk", test, ["Disease"])
    p.terms.add_file(tfile, label="Disease", name="ncbi-top200")
    drain(p.terms.match())
    out["terms_alone"] = suggestions_f1(p, gold_test)
    p.close()
    # ... merged with the shipped model (a project with its labels and Disease)
    p = project_of(work / "test_merged.nerdesk", test, ["PER", "ORG", "LOC", "MISC", "Disease"])
    p.terms.add_file(tfile, label="Disease", name="ncbi-top200")
    drain(p.preannotate(threads=threads))
    out["terms_and_shipped_model"] = suggestions_f1(p, gold_test)
    model_spans = p.store.conn.execute("SELECT SUM(json_array_length(spans)) FROM predictions").fetchone()[0]
    out["shipped_model_spans"] = model_spans
    p.close()
    for k in ("terms_alone", "terms_and_shipped_model"):
        r = out[k]
        log(
            f"  day-zero exact F1 on TEST, {k.replace('_', ' ')}: {r['f1']:.3f} (P {r['precision']:.3f}, "
            f"R {r['recall']:.3f}; {r['tp']}/{r['predicted']} predicted, {r['gold']} gold)"
        )
    # the first 100 reviewed segments of DEV, with and without the list
    runs = {}
    for name, use_terms in (("with terms", True), ("without terms", False)):
        p = project_of(work / f"dev_{use_terms}.nerdesk", dev, ["Disease"])
        if use_terms:
            p.terms.add_file(tfile, label="Disease", name="ncbi-top200")
        drain(p.preannotate(threads=threads))
        rows = review(p, gold_dev, n_review)
        acts = statistics.mean(r["actions"] for r in rows)
        scratch = statistics.mean(r["scratch"] for r in rows)
        run = {
            "segments": len(rows),
            "actions_per_segment": acts,
            "from_scratch_per_segment": scratch,
            "entities_per_segment": statistics.mean(r["entities"] for r in rows),
            "with_term_hits": sum(r["term_hit"] for r in rows),
            "path": str(p.path),
        }
        if not use_terms:  # the same segments, had the list been there
            p.terms.add_file(tfile, label="Disease", name="ncbi-top200")
            drain(p.terms.match())
            run["same_segments_with_terms"] = with_terms_on(p, [r["id"] for r in rows], gold_dev, tfile)
        runs[name] = run
        log(
            f"  {name}: {len(rows)} reviewed segments (routed by blend; {run['with_term_hits']} with a term hit), "
            f"{run['entities_per_segment']:.2f} entities/segment: {acts:.2f} edit actions per segment against "
            f"what was shown ({scratch:.2f} from nothing)"
            + (
                f"; on these same segments the list would have needed {run['same_segments_with_terms']:.2f}"
                if not use_terms
                else ""
            )
        )
        p.close()
    out["review"] = runs
    if finetune:
        for name, run in runs.items():
            p = Project.open(run["path"], user="oracle")
            model_dir, f1 = finetune_and_score(p, work, name.replace(" ", "_"), d / "test.jsonl", threads)
            p.close()
            q = project_of(work / f"test_ft_{name.replace(' ', '_')}.nerdesk", test, ["Disease"])
            q.terms.add_file(tfile, label="Disease", name="ncbi-top200")
            drain(q.predict(str(model_dir), threads=threads, activate=True))
            drain(q.terms.match())
            merged = suggestions_f1(q, gold_test)
            q.close()
            run["finetuned_f1"] = f1
            run["finetuned_and_terms"] = merged
            log(
                f"    {name}: fine-tuned model merged with the terms: test F1 {merged['f1']:.3f} "
                f"(P {merged['precision']:.3f}, R {merged['recall']:.3f})"
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--segments", type=int, default=1_000_000)
    ap.add_argument("--terms", type=int, default=100_000)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-ncbi", action="store_true")
    ap.add_argument("--no-finetune", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="Keep the projects here (default: a temporary folder).")
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures as JSON.")
    args = ap.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        if not args.skip_ncbi:
            results["ncbi"] = bench_ncbi(args.data, work, not args.no_finetune, args.threads)
        if not args.skip_speed:
            results["speed"] = bench_speed(args.data, args.segments, args.terms, work)
        log(f"done in {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
