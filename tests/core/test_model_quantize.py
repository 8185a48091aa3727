"""en-base's int8 graph is statically quantised: its spans do not depend on the batch, and the
command in its card rebuilds the shipped file byte for byte."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from nerdesk.core.model import load_model
from nerdesk.core.model.package import resolve_model_path, sha256_file


def _replay(n: int) -> list[list[str]]:
    with gzip.open(resolve_model_path("en-base") / "replay.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line)["tokens"] for line, _ in zip(fh, range(n))]


def test_int8_spans_do_not_depend_on_the_batch():
    # a dynamically quantised graph (en-base 2.0) scales activations per batch: batches of 64
    # tokens and of 8,192 gave other spans on some of these segments
    segs = _replay(600)
    m = load_model("en-base", variant="int8")
    runs = []
    for size in (8192, 1024, 64):
        m.batch_tokens = size
        runs.append(m.predict(segs))
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert [s[:3] for s in a.spans] == [s[:3] for s in b.spans]
            assert np.allclose([s[3] for s in a.spans], [s[3] for s in b.spans], atol=1e-5)


def test_the_cards_requantize_command_rebuilds_the_shipped_int8_graph(tmp_path):
    pytest.importorskip("torch")
    import onnx

    from nerdesk.train.requantize import requantize

    src = resolve_model_path("en-base")
    card = requantize(src, tmp_path / "out", "9.9.9")
    assert "nerdesk.train.requantize" in card.extra["requantized"]["command"]
    got = tmp_path / "out" / "model.int8.onnx"
    assert sha256_file(got) == sha256_file(src / "model.int8.onnx")
    ops = {n.op_type for n in onnx.load(str(got)).graph.node}
    assert "QLinearMatMul" in ops and not ops & {"DynamicQuantizeLinear", "DynamicQuantizeMatMul"}
