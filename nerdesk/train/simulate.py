"""``nerdesk simulate``: plan an annotation budget by replaying the loop with an oracle.

For each seed: the TRAIN corpus (JSONL with gold tags) becomes an unannotated project,
pre-annotated by the base model. Each round routes a batch by the chosen strategy; an oracle
annotator corrects the batch to the gold spans (through the same project API the app uses, so
the edit actions are counted); all corrections so far are exported as a bundle and the base
model is fine-tuned on them (with replay); the new model is scored on TEST and promoted in the
project, so the next round is routed by it. Output: the learning curve (F1 against corrected
segments and against edit actions) as JSON, and a PNG plot.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nerdesk.core.bundle import write_bundle
from nerdesk.core.formats import jsonl
from nerdesk.core.model import load_model
from nerdesk.core.model.data import load_records
from nerdesk.core.model.evaluate import evaluate
from nerdesk.core.project import Project
from nerdesk.core.routing import route
from nerdesk.core.types import DocRecord, drain as _drain
from nerdesk.core.versions import promote
from nerdesk.train.finetune import finetune_iter


def schedule(batch: int, rounds: int, sizes: Sequence[int] | None) -> list[int]:
    """Cumulative corrected-segment counts after each round."""
    return list(sizes) if sizes else [batch * (r + 1) for r in range(rounds)]


def simulate(
    train: str | Path,
    test: str | Path,
    *,
    strategy: str = "mnlp",
    batch: int = 50,
    rounds: int = 4,
    sizes: Sequence[int] | None = None,
    seeds: int = 1,
    base: str | Path | None = None,
    replay: int | None = None,
    epochs: int | None = None,
    threads: int = 2,
    workdir: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    targets = schedule(batch, rounds, sizes)
    test_records = load_records(test, {})  # identity: the domain's own labels
    gold_by_text = {r.text: list(r.spans or []) for r in jsonl.read(train)}
    base_model = load_model(base)
    base_f1 = evaluate(base_model, test_records)["exact"]["f1"]
    runs = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for seed in range(seeds):
            t0 = time.time()
            # a project for the corpus's labels: the base model is asked for those it knows
            labels = sorted({s.label for spans in gold_by_text.values() for s in spans})
            p = Project.create(Path(tmp) / f"sim{seed}.nerdesk", user="oracle", labels=labels)
            _drain(p.import_records([DocRecord(r.text, None, r.tokens, r.sentences) for r in jsonl.read(train)]))
            _drain(p.predict(base_model))
            points = [{"segments": 0, "actions": 0, "f1": base_f1}]
            done = actions = 0
            for r, target in enumerate(targets):
                while done < target:
                    items = route(p.store, strategy, target - done, seed=seed * 1000 + r)
                    if not items:
                        break
                    for it in items:
                        seg = p.segment(it.id)
                        gold = [
                            s for s in gold_by_text[p.document(seg.doc_id)["text"]] if seg.start <= s.start < seg.end
                        ]
                        shown = sorted(s.key() for s in seg.spans)
                        if shown != sorted(s.key() for s in gold):
                            p.set_spans(it.id, gold, action="oracle")
                        p.accept(it.id)
                        done += 1
                actions = p.error_report()["effort"]["with_model"]
                bundle = Path(tmp) / f"s{seed}r{r}.zip"
                write_bundle(p.store, p.identity, bundle)
                out = Path(tmp) / f"s{seed}r{r}-model"
                tune = {k: v for k, v in (("replay", replay), ("epochs", epochs)) if v is not None}
                _drain(
                    finetune_iter(
                        [bundle], out, base=base, seed=seed, threads=threads, quantize=False, log=lambda s: None, **tune
                    )
                )
                model = load_model(out)
                f1 = evaluate(model, test_records)["exact"]["f1"]
                points.append({"segments": done, "actions": actions, "f1": f1})
                log(
                    f"{strategy} seed {seed}: {done} segments, {actions} edit actions -> test F1 {f1:.4f} "
                    f"({time.time() - t0:.0f}s)"
                )
                _drain(promote(p.store, p.identity, model))
            p.close()
            runs.append(points)
    curve = []
    for i in range(len(runs[0])):
        f1s = [run[i]["f1"] for run in runs if i < len(run)]
        curve.append(
            {
                "segments": runs[0][i]["segments"],
                "actions": statistics.mean(run[i]["actions"] for run in runs if i < len(run)),
                "f1": statistics.mean(f1s),
                "f1_std": statistics.pstdev(f1s) if len(f1s) > 1 else 0.0,
            }
        )
    return {
        "train": str(train),
        "test": str(test),
        "strategy": strategy,
        "seeds": seeds,
        "base_f1": base_f1,
        "curve": curve,
        "runs": runs,
    }


def write_outputs(results: list[dict[str, Any]], out: Path) -> Path:
    """results.json (the CLI draws learning_curve.png from it: train/ never imports the UI)."""
    out.mkdir(parents=True, exist_ok=True)
    jpath = out / "results.json"
    jpath.write_text(json.dumps(results, indent=2))
    return jpath
