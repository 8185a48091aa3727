"""Training the default nerdesk tagger (PyTorch; the ``train`` extra). The only place torch is used."""

from __future__ import annotations

__all__ = ["train", "train_iter"]


def __getattr__(name: str):
    if name in ("train", "train_iter"):
        from nerdesk.train import train as _t

        return getattr(_t, name)
    raise AttributeError(name)
