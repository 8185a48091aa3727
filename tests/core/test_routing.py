"""Routing strategies, auto-accept and its audit estimate, on real sentences (crossner_politics).

Predictions are constructed (registered under a test model id) so each strategy's order can be
checked against what it is specified to do.
"""

from __future__ import annotations

import random

import numpy as np
import pytest


from nerdesk.core.autoaccept import audit_estimate, auto_accept, eligible_count, readiness, wilson
from nerdesk.core.errors import NerdeskError
from nerdesk.core.project import Project
from nerdesk.core.model.sketch import distance_to_nearest, sketch, unpack
from nerdesk.core.routing import STRATEGIES, _feature_distance, route
from nerdesk.core.types import DocRecord, drain
from tests.conftest import read_shared

MODEL = "test-model@1"
PINNED = "f50502f2fee41aff05f6f7fb02eff316"


def make_project(tmp_path, n=120, source="politics.jsonl"):
    p = Project.create(tmp_path / "r.nerdesk", labels=["PER", "ORG", "LOC", "politicalparty"])
    recs = [
        DocRecord(" ".join(s["tokens"]), source=source) for s in read_shared("adapt/crossner_politics/dev.jsonl", n)
    ]
    drain(p.import_records(recs))
    p.store.register_model(MODEL, "test", "1", "", "", ["PER", "ORG", "LOC", "politicalparty"], {})
    p.store.set_active_model(MODEL)
    return p


def seg_ids(p):
    return [r[0] for r in p.store.conn.execute("SELECT id FROM segments ORDER BY id")]


def predict(p, rows):
    """rows: {segment_id: (spans, least_confidence, margin, entropy, mnlp)}"""
    with p.store.transaction():
        p.store.insert_predictions(
            MODEL, [(sid, spans, lc, mg, en, mn, mn) for sid, (spans, lc, mg, en, mn) in rows.items()]
        )


@pytest.mark.parametrize("key", ["least_confidence", "margin", "entropy", "mnlp"])
def test_uncertainty_strategies_order_by_their_score(tmp_path, key):
    p = make_project(tmp_path)
    ids = seg_ids(p)
    rng = random.Random(1)
    rows = {i: ([], rng.random(), rng.random(), rng.random(), rng.random()) for i in ids}
    predict(p, rows)
    col = ["least_confidence", "margin", "entropy", "mnlp"].index(key) + 1
    items = route(p.store, key, 30, diverse=False)
    expected = sorted(ids, key=lambda i: -rows[i][col])[:30]
    assert [it.id for it in items] == expected
    assert key.replace("_", " ") in items[0].reasons[0]
    p.close()


def test_uncertainty_starts_cold_for_a_label_the_model_cannot_predict(tmp_path):
    p = make_project(tmp_path)
    ids = seg_ids(p)
    rng = random.Random(1)
    predict(p, {i: ([], rng.random(), rng.random(), rng.random(), rng.random()) for i in ids})
    p.add_labels(["election"])  # new to the model: its uncertainty cannot find elections
    by_mnlp = [it.id for it in route(p.store, "mnlp", 20, diverse=False)]
    assert by_mnlp == [it.id for it in route(p.store, "random", 20, diverse=False)]
    assert (
        "cold start" in route(p.store, "mnlp", 1)[0].reasons[0]
        and "election" in route(p.store, "mnlp", 1)[0].reasons[0]
    )
    # enough reviewed examples of the new label: uncertainty takes over again
    from nerdesk.core.routing import COLD_START
    from nerdesk.core.types import Span

    for i in ids[:COLD_START]:
        p.set_spans(i, [Span(0, 1, "election")])
        p.accept(i)
    top = route(p.store, "mnlp", 5, diverse=False)
    assert "uncertain" in top[0].reasons[0]
    p.close()


def test_random_is_seeded_and_unbiased(tmp_path):
    p = make_project(tmp_path)
    a = [i.id for i in route(p.store, "random", 50, seed=1, diverse=False)]
    b = [i.id for i in route(p.store, "random", 50, seed=1, diverse=False)]
    c = [i.id for i in route(p.store, "random", 50, seed=2, diverse=False)]
    assert a == b and a != c and len(set(a)) == 50
    # beyond the candidate pool, random picks stay uniform: they do not come from the most
    # uncertain half of the pool (with a pool of 20 of 120 segments, that half is 10 segments)
    ids = seg_ids(p)
    predict(p, {i: ([], k / len(ids), 0.0, 0.0, k / len(ids)) for k, i in enumerate(ids)})
    top = set(ids[-10:])
    for seed in range(3):
        picks = [i.id for i in route(p.store, "random", 10, seed=seed, diverse=False, pool=20)]
        assert len(set(picks) & top) <= 5
    p.close()


def test_novelty_prefers_unseen_words_and_new_sources(tmp_path):
    p = make_project(tmp_path, 60)
    ids = seg_ids(p)
    for i in ids[:40]:  # review two thirds of the corpus
        p.accept(i)
    drain(p.import_records([DocRecord("Quasars emit ultraviolet radiation copiously .", source="astro.txt")]))
    drain(
        p.import_records(
            [
                DocRecord(
                    " ".join(read_shared("adapt/crossner_politics/dev.jsonl", 41)[40]["tokens"]) + " again",
                    source="politics.jsonl",
                )
            ]
        )
    )
    items = route(p.store, "novelty", 5, diverse=False)
    top = p.segment(items[0].id)
    assert top.text.startswith("Quasars")
    assert any("new source" in r for r in items[0].reasons) and any("unseen" in r for r in items[0].reasons)
    p.close()


def test_novelty_measures_distance_in_feature_space(tmp_path):
    """Same words everywhere (digits do not count as words): only the sketches tell segments apart."""
    p = Project.create(tmp_path / "n.nerdesk", labels=["PER"])
    drain(p.import_records([DocRecord(f"Meeting note {i} .") for i in range(40)]))
    p.store.register_model(MODEL, "test", "1", "", "", ["PER"], {})
    p.store.set_active_model(MODEL)
    ids = seg_ids(p)
    rng = np.random.default_rng(0)
    home, away = rng.normal(size=320), rng.normal(size=320)
    far = set(ids[30:])  # 10 unreviewed segments whose embeddings lie elsewhere
    with p.store.transaction():
        p.store.insert_predictions(
            MODEL,
            [
                (i, [], 0.1, 0.9, 0.1, 0.1, 0.1, sketch((away if i in far else home) + 0.3 * rng.normal(size=320)))
                for i in ids
            ],
        )
    for i in ids[:15]:
        p.accept(i)
    items = route(p.store, "novelty", 10, diverse=False)
    assert {it.id for it in items} == far
    assert all(any("feature distance" in r for r in it.reasons) for it in items)
    p.close()


def test_novelty_sketches_separate_domains_with_the_default_model(tmp_path):
    """Real model, real text: reviewed politics; unreviewed politics is nearer than biomedicine."""
    p = Project.create(tmp_path / "d.nerdesk")
    pol = [" ".join(s["tokens"]) for s in read_shared("adapt/crossner_politics/test.jsonl", 120)]
    bio = [" ".join(s["tokens"]) for s in read_shared("adapt/ncbi_disease/test.jsonl", 80)]
    drain(p.import_records([DocRecord(t) for t in pol + bio]))
    drain(p.predict())
    ids = seg_ids(p)
    assert len(p.store.sketches(p.store.active_model_id(), ids)) == len(ids)
    for i in ids[:40]:
        p.accept(i)
    dist = _feature_distance(p.store, p.store.active_model_id(), [{"id": i} for i in ids[40:]])
    n_pol = 120 - 40
    d_pol = np.mean([dist[i] for i in ids[40 : 40 + n_pol]])
    d_bio = np.mean([dist[i] for i in ids[40 + n_pol :]])
    assert d_bio > d_pol + 0.1, (d_pol, d_bio)
    p.close()


def test_sketch_is_stable_and_small():
    v = np.linspace(-1, 1, 320)
    s = sketch(v)
    assert len(s) == 64 and s == sketch(v.astype(np.float32))
    # the projection is generated by an integer hash: pinned, so stored sketches stay comparable
    assert s.hex()[:32] == PINNED
    x = unpack([s, sketch(-v)])
    d = distance_to_nearest(x, x[:1])  # itself, and its opposite
    assert d[0] < 1e-6 and d[1] > 1.99


def test_rare_labels_first(tmp_path):
    p = make_project(tmp_path, 60)
    ids = seg_ids(p)
    # 30 reviewed segments with many PER entities, none with politicalparty
    for i in ids[:30]:
        seg = p.segment(i)
        a, b = seg.tokens[0]
        p.add_span(i, a, b, "PER")
        p.accept(i)
    rest = ids[30:]
    rows = {i: ([[p.segment(i).tokens[0][0], p.segment(i).tokens[0][1], "PER", 0.9]], 0.5, 0.5, 0.5, 0.5) for i in rest}
    for i in rest[5:8]:
        t = p.segment(i).tokens[0]
        rows[i] = ([[t[0], t[1], "politicalparty", 0.9]], 0.5, 0.5, 0.5, 0.5)
    predict(p, rows)
    items = route(p.store, "rare", 3, diverse=False)
    assert sorted(it.id for it in items) == sorted(rest[5:8])
    assert "rare label: politicalparty (0 reviewed)" in items[0].reasons
    p.close()


def test_error_clusters_first(tmp_path):
    p = make_project(tmp_path, 120)
    ids = seg_ids(p)
    texts = {i: p.segment(i).text for i in ids}
    # the model missed "Labour" in one reviewed segment: the other segments with "Labour" come first
    labour = [i for i in ids if "Labour" in texts[i]]
    assert len(labour) >= 3
    first = labour[0]
    predict(p, {i: ([], 0.5, 0.5, 0.5, 0.5) for i in ids})
    s = texts[first].index("Labour") + p.segment(first).start
    p.add_span(first, s, s + 6, "politicalparty")
    p.accept(first)
    assert p.corrections(segment_id=first)[0]["category"] == "false_negative"
    items = route(p.store, "errors", len(labour) - 1, diverse=False)
    assert sorted(it.id for it in items) == sorted(labour[1:])
    assert "like corrected: 'labour'" in items[0].reasons
    p.close()


def test_diversity_holds_back_near_duplicates(tmp_path):
    p = Project.create(tmp_path / "d.nerdesk", labels=["PER"])
    base = "The minister of finance met the committee on tuesday to discuss the budget"
    recs = [DocRecord(base + f" {k}") for k in range(10)] + [
        DocRecord(f"Completely different sentence number {w}") for w in ("one", "two", "three")
    ]
    drain(p.import_records(recs))
    items = route(p.store, "random", 4, seed=3)
    texts = [p.segment(i.id).text for i in items]
    assert sum(t.startswith("The minister") for t in texts) == 1  # 3 distinct + 1 of the 10 near-duplicates
    more = route(p.store, "random", 6, seed=3)  # when distinct items run out, held-back ones fill the batch
    assert "near-duplicate" in more[-1].reasons and [i.id for i in more[:4]] == [i.id for i in items]
    p.close()


def test_every_strategy_runs_and_blend_explains(tmp_path):
    p = make_project(tmp_path, 80)
    ids = seg_ids(p)
    rng = random.Random(0)
    predict(p, {i: ([], rng.random(), rng.random(), rng.random(), rng.random()) for i in ids})
    for s in STRATEGIES:
        items = route(p.store, s, 10)
        assert len(items) == 10 and len({i.id for i in items}) == 10, s
    items = route(p.store, "blend", 10)
    assert all(i.reasons for i in items)
    p.close()


def test_auto_accept_and_audit_estimate_is_sound(tmp_path):
    p = make_project(tmp_path, 400)
    ids = seg_ids(p)
    rng = random.Random(7)
    rows = {}
    for i in ids:
        t = p.segment(i).tokens[0]
        conf = rng.choice([0.99, 0.97, 0.6])
        rows[i] = ([[t[0], t[1], "PER", conf]], 1 - conf, 0.1, 0.1, 1 - conf)
    predict(p, rows)
    n_eligible = eligible_count(p.store, 0.95)
    assert n_eligible == sum(1 for r in rows.values() if r[0][0][3] >= 0.95)
    assert eligible_count(p.store, 0.98) < n_eligible
    with pytest.raises(NerdeskError) as e:  # no reviewed segment above 0.95 shows it is safe yet
        auto_accept(p.store, p.identity, 0.95, audit_rate=0.3, seed=1)
    assert e.value.code == "E017" and "only 0 reviewed segments" in str(e.value)
    assert p.stats()["by_status"].get("auto", 0) == 0
    res = auto_accept(p.store, p.identity, 0.95, audit_rate=0.3, seed=1, force=True)
    assert res["auto"] + res["audit"] == n_eligible and res["audit"] > 40
    # humans review the audits; the model is wrong on a known 20% of them
    audits = [r[0] for r in p.store.conn.execute("SELECT id FROM segments WHERE status = 'audit'")]
    wrong = set(rng.sample(audits, len(audits) // 5))
    for i in audits:
        if i in wrong:
            sp = rows[i][0][0]
            p.relabel_span(i, sp[0], sp[1], "ORG")
        p.accept(i)
    est = audit_estimate(p.store)
    assert est["audited"] == len(audits) and est["errors"] == len(wrong)
    assert est["low"] < 0.2 < est["high"] and est["rate"] == pytest.approx(len(wrong) / len(audits))
    assert est["auto_accepted"] == res["auto"]
    assert p.stats()["by_status"]["auto"] == res["auto"]


def test_wilson_interval_coverage():
    """95% intervals cover the true error rate in about 95% of repeated audits."""
    rng = random.Random(42)
    for true_rate, n in ((0.02, 50), (0.1, 100), (0.3, 30)):
        covered = 0
        for _ in range(2000):
            errors = sum(rng.random() < true_rate for _ in range(n))
            lo, hi = wilson(errors, n)
            covered += lo <= true_rate <= hi
        assert 0.92 <= covered / 2000 <= 0.99, (true_rate, n, covered)


def test_route_filters_in_sql(tmp_path):
    """label / source / max_confidence restrict the candidates of every strategy."""
    p = make_project(tmp_path, 60)
    drain(
        p.import_records(
            [
                DocRecord("Quasars emit light .", source="astro.txt"),
                DocRecord("Pulsars spin fast .", source="astro.txt"),
            ]
        )
    )
    ids = seg_ids(p)
    rows = {}
    for n, i in enumerate(ids):
        t = p.segment(i).tokens[0]
        rows[i] = ([[t[0], t[1], "LOC" if n % 3 == 0 else "PER", 0.4 if n % 2 else 0.9]], 0.5, 0.5, 0.5, n / 100)
    predict(p, rows)
    for strategy in ("blend", "random", "mnlp"):
        loc = route(p.store, strategy, 100, label="LOC")
        assert loc and all(any(s[2] == "LOC" for s in it.spans) for it in loc), strategy
        low = route(p.store, strategy, 100, max_confidence=0.5)
        assert low and all(min(s[3] for s in it.spans) <= 0.5 for it in low), strategy
        astro = route(p.store, strategy, 100, source="astro.txt")
        assert sorted(it.id for it in astro) == ids[-2:], strategy


def test_auto_accept_guard_rails(tmp_path):
    """Refused while the model lacks a project label, while too few reviewed segments above the
    threshold were seen, and while too many of them needed corrections; allowed once they show it safe."""
    p = make_project(tmp_path, 120)
    ids = seg_ids(p)
    predict(p, {i: ([[*p.segment(i).tokens[0], "PER", 0.99]], 0.01, 0.1, 0.1, 0.01) for i in ids})
    p.add_labels(["Disease"])  # a label the active model cannot predict
    check = readiness(p.store, 0.95)
    assert not check["ok"] and "cannot predict Disease" in check["reasons"][0]
    p.store.conn.execute("DELETE FROM labels WHERE name = 'Disease'")
    # 30 reviewed: 6 corrected (20%) > 5%: refused, with the evidence
    for k, i in enumerate(ids[:30]):
        if k < 6:
            sp = p.segment(i).tokens[0]
            p.relabel_span(i, sp[0], sp[1], "ORG")
        p.accept(i)
    check = readiness(p.store, 0.95)
    assert (check["reviewed"], check["corrected"]) == (30, 6) and check["low"] < 0.2 < check["high"]
    assert not check["ok"] and "6 of 30" in check["reasons"][0]
    with pytest.raises(NerdeskError) as e:
        auto_accept(p.store, p.identity, 0.95)
    assert e.value.code == "E017" and p.stats()["by_status"].get("auto", 0) == 0
    assert readiness(p.store, 0.95, max_error_rate=0.25)["ok"]
    res = auto_accept(p.store, p.identity, 0.95, max_error_rate=0.25, audit_rate=0.0)
    assert res["auto"] == len(ids) - 30 and res["check"]["ok"]
