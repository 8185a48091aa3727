"""The onnxruntime runner for nerdesk model packages (no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nerdesk.core.errors import Errors, err
from nerdesk.core.model.decode import SegmentPrediction, bio_tags, decode_batch
from nerdesk.core.model.card import ModelCard
from nerdesk.core.model.features import FeatureExtractor
from nerdesk.core.model.package import load_card


def make_session(path: Path, threads: int = 1):
    """An onnxruntime CPU session; a file onnxruntime cannot read raises E202."""
    import onnxruntime as ort

    disable = getattr(ort, "disable_telemetry_events", None)
    if disable is not None:  # no telemetry: nerdesk never opens a network connection
        disable()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several unrelated types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise err(Errors.E202, path=str(path), reason=reason[:300]) from None


class OnnxModel:
    """A nerdesk CNN tagger package run with onnxruntime.

    ``predict(batch)`` takes a list of token lists and returns one SegmentPrediction per segment.

    Segments run in batches of about ``batch_tokens`` tokens (sorted by length, so little padding):
    small enough for the activations to stay in the CPU cache (en-base 2.1: 1,024 tokens a batch ran
    faster than 8,192, README "Model"); features and decoding work on groups of such batches
    (``decode_tokens``). A statically quantised or fp32 graph gives the same spans at
    any batch size; a dynamically quantised int8 graph (en-base 2.0 and older, BERT fine-tunes)
    scales its activations per batch, so its spans move slightly with the batch's other segments.
    """

    kind = "nerdesk"

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int = 1,
        variant: str | None = None,
        verify: bool = True,
        batch_tokens: int = 1024,
        max_batch: int = 512,
    ):
        self.path = Path(model_dir)
        self.card: ModelCard = load_card(self.path, verify=verify)
        self.labels: list[str] = list(self.card.labels)
        self.tags = bio_tags(self.labels)
        self.temperature = float(self.card.temperature)
        self.span_calibration = self.card.span_calibration
        self.parents: dict[str, str] = dict(self.card.label_parents or {})
        variant = variant or self.card.onnx.get("default", "fp32")
        onnx_file = self.card.onnx_file(variant) if variant in ("fp32", "int8") else None
        if not onnx_file:
            raise err(Errors.E205, path=str(self.path / "model.json"), reason=f"no ONNX file for variant '{variant}'")
        self.variant = variant
        self.onnx_path = self.path / onnx_file
        self.threads = threads
        self.batch_tokens = batch_tokens
        self.max_batch = max_batch
        self.session = make_session(self.onnx_path, threads)
        self.features = FeatureExtractor(self.card.features, base_dir=self.path)
        self._check_io()
        meta = self.card.files.get(onnx_file, {})
        sha = meta.get("sha256", "") if isinstance(meta, dict) else str(meta)
        if not sha:
            from nerdesk.core.model.package import sha256_file

            sha = sha256_file(self.onnx_path)
        self.sha256 = sha  # of the ONNX file in use
        self.id = f"{self.card.name}@{self.card.version}+{sha[:8]}"

    # -- validation -----------------------------------------------------------------------
    def _check_io(self) -> None:
        ins = {i.name: i for i in self.session.get_inputs()}
        outs = self.session.get_outputs()
        where = str(self.onnx_path)
        want = {"ids", "mask"} | ({"vectors"} if self.features.vectors is not None else set())
        if set(ins) != want:
            raise err(
                Errors.E203,
                path=where,
                reason=f"expected inputs {', '.join(sorted(want))}; found {', '.join(sorted(ins)) or 'none'}",
            )
        if ins["ids"].type != "tensor(int64)" or len(ins["ids"].shape) != 3:
            raise err(Errors.E203, path=where, reason="input 'ids' must be int64 (batch, length, features)")
        if ins["mask"].type != "tensor(float)" or len(ins["mask"].shape) != 2:
            raise err(Errors.E203, path=where, reason="input 'mask' must be float32 (batch, length)")
        width = ins["ids"].shape[2]
        if isinstance(width, int) and width != self.features.width:
            raise err(
                Errors.E204,
                path=where,
                reason=f"the graph takes {width} features per token, the card's config gives {self.features.width}",
            )
        names = [o.name for o in outs]
        if not outs or len(outs[0].shape) != 3 or len(outs) > 2 or (len(outs) == 2 and names[1] != "embedding"):
            raise err(
                Errors.E203,
                path=where,
                reason="expected an output 'logits' (batch, length, tags) "
                "and optionally 'embedding' (batch, width); "
                f"found {', '.join(names) or 'none'}",
            )
        self._out_name = outs[0].name
        self._outputs = names
        n_out = outs[0].shape[2]
        if not isinstance(n_out, int):  # symbolic dimension: ask the graph
            try:
                n_out = self._run(*self.features.batch([["a"]])).shape[2]
            except Exception as exc:  # noqa: BLE001
                raise err(Errors.E203, path=where, reason=f"test run failed: {exc}") from None
        if n_out != len(self.tags):
            raise err(
                Errors.E204,
                path=str(self.path / "model.json"),
                reason=f"{len(self.labels)} labels need {len(self.tags)} BIO tags, the model outputs {n_out}",
            )

    # -- inference ------------------------------------------------------------------------
    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run([self._out_name], self.features.feed(ids, mask))[0]

    def _run_all(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits and, where the graph has one, the segment embedding."""
        out = self.session.run(self._outputs, self.features.feed(ids, mask))
        return out[0], (out[1] if len(out) > 1 else None)

    def logits(self, batch: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Raw logits per segment, (n_tokens, n_tags) each."""
        out: list[np.ndarray | None] = [None] * len(batch)
        for idx in self._batches(batch):
            sub = [batch[i] for i in idx]
            ids, mask = self.features.batch(sub)
            lg = self._run(ids, mask)
            for j, i in enumerate(idx):
                out[i] = lg[j, : len(batch[i])]
        return out  # type: ignore[return-value]

    def _batches(self, batch: Sequence[Sequence[str]]) -> list[list[int]]:
        order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
        groups: list[list[int]] = []
        cur: list[int] = []
        for i in order:
            n = max(len(batch[i]), 1)
            if cur and (n * (len(cur) + 1) > self.batch_tokens or len(cur) >= self.max_batch):
                groups.append(cur)
                cur = []
            cur.append(i)
        if cur:
            groups.append(cur)
        return groups

    #: Tokens whose features are computed and spans decoded together: several session batches,
    #: so that Python's per-call work is paid once per 8,192 tokens, not once per batch.
    decode_tokens = 8192

    def _decode_groups(self, batch: Sequence[Sequence[str]]) -> list[list[list[int]]]:
        """The session batches (:meth:`_batches`, in order) joined into groups of about
        ``decode_tokens`` padded tokens."""
        groups: list[list[list[int]]] = []
        size = 0
        for idx in self._batches(batch):
            n = len(idx) * max(max(len(batch[i]) for i in idx), 1)
            if not groups or size + n > self.decode_tokens:
                groups.append([])
                size = 0
            groups[-1].append(idx)
            size += n
        return groups

    def _run_group(
        self, ids: np.ndarray, mask: np.ndarray, parts: Sequence[int], lengths: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits (B, L, K) and embeddings of a decode group: the session runs once per session
        batch (``parts``: their sizes, rows in order), each cut to its own longest segment."""
        logits: np.ndarray | None = None
        embs: list[np.ndarray] = []
        start = 0
        for n in parts:
            w = max(max(lengths[start : start + n]), 1)
            rows = slice(start, start + n)
            lg, emb = self._run_all(np.ascontiguousarray(ids[rows, :w]), np.ascontiguousarray(mask[rows, :w]))
            if logits is None:
                logits = np.zeros((ids.shape[0], ids.shape[1], lg.shape[2]), dtype=lg.dtype)
            logits[rows, :w] = lg
            if emb is not None:
                embs.append(emb)
            start += n
        assert logits is not None
        return logits, (np.concatenate(embs) if embs else None)

    def predict(
        self, batch: Sequence[Sequence[str]], *, token_probs: bool = False, only: Sequence[str] | None = None
    ) -> list[SegmentPrediction]:
        """One prediction per segment; ``only``: the labels asked for (see ``decode_batch``)."""
        out: list[SegmentPrediction | None] = [None] * len(batch)
        for parts in self._decode_groups(batch):
            idx = [i for part in parts for i in part]
            sub = [batch[i] for i in idx]
            lengths = [len(s) for s in sub]
            ids, mask = self.features.batch(sub)
            lg, emb = self._run_group(ids, mask, [len(p) for p in parts], lengths)
            preds = decode_batch(
                lg,
                lengths,
                self.labels,
                self.temperature,
                keep_probs=token_probs,
                span_calibration=self.span_calibration,
                only=only,
                parents=self.parents,
            )
            for j, i in enumerate(idx):
                if emb is not None:
                    preds[j].embedding = emb[j]
                out[i] = preds[j]
        return out  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<OnnxModel {self.id} {self.variant} labels={self.labels}>"
