"""Agreement figures equal reference implementations: scikit-learn's cohen_kappa_score and the
krippendorff package's alpha, on generated data and on real data (../shared/data through projects)."""

from __future__ import annotations

import json
import random
from itertools import combinations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from nerdesk.core.agreement import agreement_of, krippendorff_alpha, partial_matches
from nerdesk.core.project import Project
from nerdesk.core.types import drain

LABELS = ["PER", "ORG", "LOC"]


def _random_spans(rng: random.Random, n_tok: int) -> list[tuple[int, int, str]]:
    """Token-index spans, non-overlapping."""
    out, i = [], 0
    while i < n_tok:
        if rng.random() < 0.3:
            j = min(n_tok, i + rng.randint(1, 3))
            out.append((i, j, rng.choice(LABELS)))
            i = j + 1
        else:
            i += 1
    return out


def _tags(spans: list[tuple[int, int, str]], n_tok: int) -> list[str]:
    tags = ["O"] * n_tok
    for a, b, lab in spans:
        tags[a:b] = [lab] * (b - a)
    return tags


def generated(seed: int, n_segments: int = 80, raters=("ann", "bob", "cy")):
    """Segments of 5-15 single-character tokens 'x ' (token i at 2i..2i+1), two or three raters each,
    a rater's spans a noisy copy of a reference."""
    rng = random.Random(seed)
    rows, tags = [], {}
    start = 0
    for sid in range(1, n_segments + 1):
        n_tok = rng.randint(5, 15)
        flat = [x for i in range(n_tok) for x in (2 * i, 2 * i + 1)]
        ref = _random_spans(rng, n_tok)
        who = rng.sample(raters, rng.choice([2, 3]))
        anns = []
        for r in who:
            spans = list(ref) if rng.random() < 0.5 else _random_spans(rng, n_tok)
            if spans and rng.random() < 0.3:
                a, b, _ = spans[0]
                spans[0] = (a, b, rng.choice(LABELS))
            tags[(sid, r)] = _tags(spans, n_tok)
            anns.append(
                (
                    r,
                    "annotator",
                    json.dumps(
                        [{"start": start + 2 * a, "end": start + 2 * b - 1, "label": lab} for a, b, lab in spans]
                    ),
                )
            )
        rows.append((sid, start, json.dumps(flat), anns))
        start += 2 * n_tok + 10
    return rows, tags


def reference(tags: dict, raters, labels=LABELS):
    """Pairwise kappa (sklearn) and alpha (krippendorff) from the tag sequences."""
    segs = sorted({s for s, _ in tags})
    pair_kappa = {}
    for a, b in combinations(raters, 2):
        ta, tb = [], []
        for s in segs:
            if (s, a) in tags and (s, b) in tags:
                ta += tags[(s, a)]
                tb += tags[(s, b)]
        if ta:
            pair_kappa[(a, b)] = (ta, tb)
    values = {"O": 0, **{lab: i for i, lab in enumerate(labels, start=1)}}
    cols = []
    for s in segs:
        n = len(next(t for (s2, _), t in tags.items() if s2 == s))
        for i in range(n):
            cols.append([values[tags[(s, r)][i]] if (s, r) in tags else np.nan for r in raters])
    matrix = np.array(cols, dtype=float).T
    return pair_kappa, matrix


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_kappa_and_alpha_equal_the_reference_implementations(seed):
    rows, tags = generated(seed)
    report = agreement_of(rows)
    raters = report["raters"]
    pair_kappa, matrix = reference(tags, raters)
    assert len(report["pairs"]) == len(pair_kappa) == 3
    for pair in report["pairs"]:
        ta, tb = pair_kappa[(pair["a"], pair["b"])]
        assert pair["tokens"] == len(ta)
        assert pair["kappa"] == pytest.approx(cohen_kappa_score(ta, tb), abs=1e-12)
        for lab in LABELS:  # per label: the label against everything else
            ba, bb = [t == lab for t in ta], [t == lab for t in tb]
            assert pair["per_label"][lab]["kappa"] == pytest.approx(cohen_kappa_score(ba, bb), abs=1e-12)
    mean = np.mean([cohen_kappa_score(*pair_kappa[k]) for k in pair_kappa])
    assert report["overall"]["kappa"] == pytest.approx(mean, abs=1e-12)
    assert report["overall"]["alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"), abs=1e-12
    )
    for i, lab in enumerate(LABELS, start=1):
        binary = np.where(np.isnan(matrix), np.nan, (matrix == i).astype(float))
        assert report["per_label"][lab]["alpha"] == pytest.approx(
            krippendorff.alpha(reliability_data=binary, level_of_measurement="nominal"), abs=1e-12
        )


def test_span_f1_exact_and_partial_count_spans_one_to_one():
    # ann: [0,10) PER, [20,30) ORG ; bob: [0,10) PER, [22,30) ORG, [40,45) LOC
    a = [(0, 10, "PER"), (20, 30, "ORG")]
    b = [(0, 10, "PER"), (22, 30, "ORG"), (40, 45, "LOC")]
    assert partial_matches(a, b) == 2
    assert partial_matches([(0, 10, "PER")], [(0, 5, "PER"), (5, 10, "PER")]) == 1  # one to one
    assert partial_matches([(0, 10, "PER")], [(0, 10, "ORG")]) == 0  # another label never matches
    flat = json.dumps([x for i in range(25) for x in (2 * i, 2 * i + 1)])
    row = (
        1,
        0,
        flat,
        [
            ("ann", "annotator", json.dumps([{"start": s, "end": e, "label": lab} for s, e, lab in a])),
            ("bob", "annotator", json.dumps([{"start": s, "end": e, "label": lab} for s, e, lab in b])),
        ],
    )
    r = agreement_of([row])
    assert r["overall"]["span_f1_exact"] == pytest.approx(2 * 1 / 5)
    assert r["overall"]["span_f1_partial"] == pytest.approx(2 * 2 / 5)
    assert r["per_label"]["ORG"]["span_f1_exact"] == 0.0 and r["per_label"]["ORG"]["span_f1_partial"] == 1.0
    assert r["per_label"]["LOC"]["span_f1_exact"] == 0.0


def test_undefined_figures_are_none_not_a_number():
    flat = json.dumps([0, 1, 2, 3])
    same = json.dumps([])
    r = agreement_of([(1, 0, flat, [("ann", "annotator", same), ("bob", "annotator", same)])])
    assert r["overall"]["kappa"] is None and r["overall"]["alpha"] is None  # every tag O: chance is total
    assert r["overall"]["span_f1_exact"] is None  # no span to match
    assert agreement_of([])["overall"] == {
        "span_f1_exact": None,
        "span_f1_partial": None,
        "kappa": None,
        "alpha": None,
        "spans": 0,
    }
    assert krippendorff_alpha(np.full((2, 0), -1, dtype=np.int16), 2) is None


def _bio_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    out, i = [], 0
    while i < len(tags):
        if tags[i] != "O":
            lab = tags[i][2:]
            j = i + 1
            while j < len(tags) and tags[j] == f"I-{lab}":
                j += 1
            out.append((i, j, lab))
            i = j
        else:
            i += 1
    return out


def _perturb(tags: list[str], rng: random.Random, labels: list[str]) -> list[str]:
    """Drop, relabel or shrink some entities (a second annotator's disagreements)."""
    spans = _bio_spans(tags)
    out = ["O"] * len(tags)
    for a, b, lab in spans:
        x = rng.random()
        if x < 0.1:
            continue  # missed
        if x < 0.2:
            lab = rng.choice([lb for lb in labels if lb != lab] or [lab])
        elif x < 0.3 and b - a > 1:
            b -= 1
        out[a] = f"B-{lab}"
        out[a + 1 : b] = [f"I-{lab}"] * (b - a - 1)
    if rng.random() < 0.05 and "O" in out:  # an extra entity
        k = out.index("O")
        out[k] = f"B-{labels[0]}"
    return out


def test_real_data_through_projects_equals_the_references(tmp_path, shared_data):
    """200 tweets of BTC: alice with the gold tags, bob and cy with injected disagreements, each
    imported as their annotations of the same documents; the project's report equals sklearn and
    krippendorff on the tag sequences."""
    rng = random.Random(7)
    lines, seen = [], set()
    with open(shared_data / "train/btc/test.jsonl", encoding="utf-8") as f:
        for raw in f:
            d = json.loads(raw)
            key = " ".join(d["tokens"])
            if key not in seen:  # the project keeps one copy of a repeated text
                seen.add(key)
                lines.append(d)
            if len(lines) == 200:
                break
    labels = sorted({t[2:] for d in lines for t in d["tags"] if t != "O"})
    versions = {
        "alice": [d["tags"] for d in lines],
        "bob": [_perturb(d["tags"], rng, labels) for d in lines],
        "cy": [_perturb(d["tags"], rng, labels) if i % 2 else None for i, d in enumerate(lines)],
    }
    p = Project.create(tmp_path / "p.nerdesk", labels=labels)
    for name, tags in versions.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(
                json.dumps({"tokens": d["tokens"], "tags": t}) + "\n" for d, t in zip(lines, tags) if t is not None
            ),
            encoding="utf-8",
        )
        drain(p.import_file(path, annotations=True, annotator=name))
    report = p.agreement()
    assert report["segments"] == len(lines) and report["raters"] == ["alice", "bob", "cy"]
    io = {
        name: [[t if t == "O" else t[2:] for t in tags] if tags else None for tags in v] for name, v in versions.items()
    }
    for pair in report["pairs"]:
        both = [i for i in range(len(lines)) if io[pair["a"]][i] is not None and io[pair["b"]][i] is not None]
        ta = [t for i in both for t in io[pair["a"]][i]]
        tb = [t for i in both for t in io[pair["b"]][i]]
        assert pair["kappa"] == pytest.approx(cohen_kappa_score(ta, tb), abs=1e-12)
        exact = total = 0
        for i in range(len(lines)):
            ga, gb = versions[pair["a"]][i], versions[pair["b"]][i]
            if ga is None or gb is None:
                continue
            sa, sb = set(_bio_spans(ga)), set(_bio_spans(gb))
            exact += len(sa & sb)
            total += len(sa) + len(sb)
        assert pair["span_f1_exact"] == pytest.approx(2 * exact / total)
        assert 0.5 < pair["span_f1_exact"] < 1.0  # the disagreements are there, and seen
    values = {"O": 0, **{lab: i for i, lab in enumerate(labels, start=1)}}
    matrix = np.array(
        [
            [
                values[t] if io[r][i] is not None else np.nan
                for i in range(len(lines))
                for t in (io[r][i] or ["O"] * len(lines[i]["tags"]))
            ]
            for r in ("alice", "bob", "cy")
        ],
        dtype=float,
    )
    assert report["overall"]["alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"), abs=1e-12
    )
    p.close()


def test_spans_only_gives_the_same_span_figures():
    rows, _ = generated(5)
    full, fast = agreement_of(rows), agreement_of(rows, spans_only=True)
    for key in ("overall", *[f"per_label/{lab}" for lab in LABELS]):
        a = full[key] if "/" not in key else full["per_label"][key.split("/")[1]]
        b = fast[key] if "/" not in key else fast["per_label"][key.split("/")[1]]
        assert (a["span_f1_exact"], a["span_f1_partial"], a["spans"]) == (
            b["span_f1_exact"],
            b["span_f1_partial"],
            b["spans"],
        )
        assert b["kappa"] is None and b["alpha"] is None
