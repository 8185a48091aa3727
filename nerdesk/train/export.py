"""ONNX export, int8 dynamic quantisation and temperature fitting."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from nerdesk.core.model.decode import decode_batch
from nerdesk.core.model.features import FeatureExtractor


def export_onnx(
    model: torch.nn.Module, path: Path, feat_width: int, embedding: tuple[torch.Tensor, torch.Tensor]
) -> None:
    """fp32 graph: ids (B, L, F) int64, mask (B, L) float32 -> logits (B, L, K) and
    embedding (B, E), each segment in the model's feature space (``embedding`` = (center, proj),
    see ``nerdesk.train.model.WithEmbedding``)."""
    from nerdesk.train.model import WithEmbedding

    model.eval()
    graph = WithEmbedding(model, *embedding)
    ids = torch.zeros((2, 5, feat_width), dtype=torch.long)
    mask = torch.ones((2, 5), dtype=torch.float32)
    args: tuple = (ids, mask)
    names = ["ids", "mask"]
    axes = {
        "ids": {0: "batch", 1: "length"},
        "mask": {0: "batch", 1: "length"},
        "logits": {0: "batch", 1: "length"},
        "embedding": {0: "batch"},
    }
    if getattr(model, "vec_dim", 0):  # word vectors come in looked up; the table stays out
        args += (torch.zeros((2, 5, model.vec_dim)),)
        names.append("vectors")
        axes["vectors"] = {0: "batch", 1: "length"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            args,
            str(path),
            dynamo=False,
            input_names=names,
            output_names=["logits", "embedding"],
            dynamic_axes=axes,
            opset_version=17,
            do_constant_folding=True,
        )


def quantize_int8(
    src: Path, dst: Path, per_channel: bool = False, calibration: Iterable[dict[str, np.ndarray]] | None = None
) -> None:
    """int8 quantisation of the MatMul/Gemm weights and embedding tables (Gather).

    ``calibration``: the graph's inputs for a few batches (see :func:`calibration_feeds`). With
    them the activations get fixed scales (static quantisation): each activation's min and max per
    batch, as dynamic quantisation would take them, in a moving average (weight 0.1 per batch). The
    extremes over all batches instead (plain min/max) cost en-base 0.0021 F1 on uner_en_ewt test
    against 2.0's dynamic graph, the moving average at most 0.0012 on the four test splits. A
    segment's spans no longer depend on the other segments of its batch, so the runner can use
    small batches, whose activations stay in the CPU cache (README, Model: en-base 2.1 against 2.0).
    Without it, dynamic quantisation: a scale per batch and MatMul, computed at run time (the BERT
    tagger's fine-tunes).

    ``per_channel``: a scale per output column (the BERT tagger: per-tensor scales cost 1.8 F1
    points on crossner_politics test, per channel 0.5, both 22 MB against 86 MB in fp32)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)
    ops = ["MatMul", "Gemm", "Gather"]
    if calibration is None:
        quantize_dynamic(
            str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=ops, per_channel=per_channel
        )
        return
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, quantize_static

    class Feeds(CalibrationDataReader):
        def __init__(self, feeds: Iterable[dict[str, np.ndarray]]):
            self.feeds = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    quantize_static(
        str(src),
        str(dst),
        Feeds(calibration),
        quant_format=QuantFormat.QOperator,  # QLinearMatMul: faster here than QDQ pairs
        op_types_to_quantize=ops,
        activation_type=QuantType.QUInt8,  # asymmetric, as the dynamic graph's activations
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"CalibMovingAverage": True, "CalibMovingAverageConstant": 0.1},
    )


def calibration_feeds(
    fe: FeatureExtractor, feats: Sequence[np.ndarray], batch_tokens: int = 8192
) -> Iterator[dict[str, np.ndarray]]:
    """The CNN graph's inputs for feature arrays (one per segment, as ``fe`` gives them), in padded
    batches of about ``batch_tokens`` tokens: what :func:`quantize_int8` calibrates on."""
    order = sorted(range(len(feats)), key=lambda i: len(feats[i]))
    groups: list[list[np.ndarray]] = []
    for i in order:  # the longest segment so far times the count stays within batch_tokens
        if not groups or max(len(feats[i]), 1) * (len(groups[-1]) + 1) > batch_tokens:
            groups.append([])
        groups[-1].append(feats[i])
    for chunk in groups:
        width = max(max(len(f) for f in chunk), 1)
        ids = np.zeros((len(chunk), width, fe.width), dtype=np.int64)
        mask = np.zeros((len(chunk), width), dtype=np.float32)
        for j, f in enumerate(chunk):
            ids[j, : len(f)] = f
            mask[j, : len(f)] = 1.0
        yield fe.feed(ids, mask)


def _padded(logits: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    n = max((x.shape[0] for x in logits), default=1) or 1
    k = logits[0].shape[1]
    out = np.zeros((len(logits), n, k), dtype=np.float32)
    for i, x in enumerate(logits):
        out[i, : x.shape[0]] = x
    return out, np.asarray([x.shape[0] for x in logits])


def fit_temperature(
    logits: Sequence[np.ndarray], golds: Sequence[Sequence[tuple]], labels: Sequence[str], keep: Sequence[set[str]]
) -> tuple[float, dict]:
    """The temperature minimising the span-level log loss of confidence vs exact correctness.

    Viterbi paths do not depend on the temperature, so spans are decoded once and only their
    confidences recomputed per candidate temperature. Every span counts the same (weighting each
    corpus equally instead was tried for en-base 1.1.0: per-split ECE got worse on the big
    corpora and no better on the small ones).
    """
    labels = list(labels)
    # decode once (T=1) to fix the spans; collect the token-probability pieces per span
    items = []  # (seg index, s, e, label index, correct)
    order = sorted(range(len(logits)), key=lambda i: logits[i].shape[0])
    for c0 in range(0, len(order), 512):
        idx = order[c0 : c0 + 512]
        arr, lens = _padded([logits[i] for i in idx])
        preds = decode_batch(arr, lens, labels, 1.0)
        for j, i in enumerate(idx):
            gset = {tuple(g[:3]) for g in golds[i]}
            for s, e, lab, _ in preds[j].spans:
                if lab in keep[i]:
                    items.append((i, s, e, labels.index(lab), (s, e, lab) in gset))
    if not items:
        return 1.0, {"n_spans": 0}
    ok = np.asarray([it[4] for it in items], dtype=np.float64)
    lab_idx = np.asarray([it[3] for it in items])

    def confs(t: float) -> np.ndarray:
        out = np.empty(len(items))
        for n, (i, s, e, j, _) in enumerate(items):
            z = logits[i][s : min(e + 1, logits[i].shape[0])] / t
            z = z - z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            c = p[0, 1 + 2 * j] * np.prod(p[1 : e - s, 2 + 2 * j])
            if e < logits[i].shape[0]:
                c *= 1.0 - p[e - s, 2 + 2 * j]
            out[n] = c
        return np.clip(out, 1e-6, 1 - 1e-6)

    def nll(t: float) -> float:
        c = confs(t)
        return float(-(ok * np.log(c) + (1 - ok) * np.log(1 - c)).mean())

    grid = np.exp(np.linspace(np.log(0.3), np.log(5.0), 25))
    losses = [nll(t) for t in grid]
    best = float(grid[int(np.argmin(losses))])
    fine = np.exp(np.linspace(np.log(best) - 0.15, np.log(best) + 0.15, 13))
    losses_f = [nll(t) for t in fine]
    best = float(fine[int(np.argmin(losses_f))])
    from nerdesk.core.model.evaluate import ece

    c_t = confs(best)
    if len(items) < 2 * ISOTONIC_BLOCK:
        # one block of spans would map every confidence to one value (the held-out accuracy): the
        # shading and the confidence ranking would be lost; the temperature alone keeps both
        return best, {
            "n_spans": len(items),
            "nll": min(losses_f),
            "span_calibration": None,
            "ece_raw": ece(confs(1.0), ok),
            "ece_temperature": ece(c_t, ok),
            "ece_calibrated": ece(c_t, ok),
        }
    iso = fit_isotonic(c_t, ok)
    c_p = np.interp(c_t, iso["x"], iso["y"])
    per = {}
    for j, lab in enumerate(labels):
        sel = lab_idx == j
        if sel.sum() >= 500:  # enough spans for a map of its own
            per[lab] = fit_isotonic(c_t[sel], ok[sel])
            c_p[sel] = np.interp(c_t[sel], per[lab]["x"], per[lab]["y"])
    if per:
        iso = {"per_label": per, **iso}
    return best, {
        "n_spans": len(items),
        "nll": min(losses_f),
        "span_calibration": iso,
        "ece_raw": ece(confs(1.0), ok),
        "ece_temperature": ece(c_t, ok),
        "ece_calibrated": ece(c_p, ok),
    }


#: Spans per isotonic block; with fewer than two blocks' worth, no isotonic map is fitted.
ISOTONIC_BLOCK = 100


def fit_isotonic(conf: np.ndarray, ok: np.ndarray, min_block: int = ISOTONIC_BLOCK) -> dict[str, list[float]]:
    """Isotonic regression (pool adjacent violators) of correctness on confidence, as knots.

    Blocks hold at least ``min_block`` spans, so the map is smooth and not fitted to noise; the knots
    are the blocks' mean confidences with the blocks' accuracies, plus the ends 0 and 1.
    """
    order = np.argsort(conf)
    c, y = conf[order], ok[order]
    # start from equal-count bins of min_block spans, then pool violators
    blocks = [
        [float(c[i : i + min_block].sum()), float(y[i : i + min_block].sum()), len(c[i : i + min_block])]
        for i in range(0, len(c), min_block)
    ]
    if len(blocks) > 1 and len(c) % min_block:  # a short last block joins the one before
        last = blocks.pop()
        blocks[-1] = [blocks[-1][0] + last[0], blocks[-1][1] + last[1], blocks[-1][2] + last[2]]
    stack: list[list[float]] = []
    for b in blocks:
        stack.append(b)
        while len(stack) > 1 and stack[-2][1] / stack[-2][2] >= stack[-1][1] / stack[-1][2]:
            top = stack.pop()
            stack[-1] = [stack[-1][0] + top[0], stack[-1][1] + top[1], stack[-1][2] + top[2]]
    xs = [s[0] / s[2] for s in stack]
    ys = [s[1] / s[2] for s in stack]
    x = [0.0] + [round(v, 5) for v in xs] + [1.0]
    yv = [round(ys[0], 5)] + [round(v, 5) for v in ys] + [round(max(ys[-1], xs[-1]), 5)]
    # strictly increasing x (drop duplicates)
    kx, ky = [x[0]], [yv[0]]
    for a, b in zip(x[1:], yv[1:]):
        if a > kx[-1]:
            kx.append(a)
            ky.append(b)
    return {"x": kx, "y": ky}
