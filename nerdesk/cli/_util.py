"""Shared CLI pieces: the click group, error mapping, progress display, JSON output."""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import click

from nerdesk import __version__
from nerdesk.core.errors import NerdeskError
from nerdesk.core.store import BUSY_TIMEOUT, busy_error, is_busy
from nerdesk.core.types import Progress

T = TypeVar("T")


class NerdeskGroup(click.Group):
    """With no subcommand, ``nerdesk`` opens the app."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] == "--selftest":
            from nerdesk.selftest import main as selftest

            sys.exit(selftest(args[1:]))
        if not args and "app" in self.commands:
            args = ["app"]
        return super().parse_args(ctx, args)


@click.group(cls=NerdeskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="nerdesk")
def cli() -> None:
    """nerdesk: review and correct NER models offline, and feed the corrections back."""


def handle_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn NerdeskError into a one-line message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:  # a statement outside a transaction found it locked
                if not is_busy(exc):
                    raise
                raise busy_error(None, BUSY_TIMEOUT, exc) from exc
        except NerdeskError as exc:
            click.echo(f"Error: {exc}", err=True)
            if exc.details:
                click.echo(exc.details, err=True)
            sys.exit(1)

    return wrapper


def run_with_progress(gen: Generator[Progress, None, T], label: str, *, quiet: bool = False) -> T:
    """Drive a core generator that yields Progress and returns a result; show a bar on stderr."""
    result: T | None = None
    show = not quiet and sys.stderr.isatty()
    bar = None
    last = 0
    try:
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                result = stop.value
                break
            if show and p.total is None:
                click.echo(f"\r{label}: {p.done:,} {p.message}", nl=False, err=True)
                last = -1
            elif show:
                if bar is None:
                    bar = click.progressbar(length=p.total, label=label, file=sys.stderr)
                    bar.__enter__()
                bar.update(max(0, p.done - last))
                last = p.done
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        elif last == -1:
            click.echo("", err=True)
    return result  # type: ignore[return-value]


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def train_extra_missing(exc: ModuleNotFoundError) -> bool:
    """Whether a failed import means the ``train`` extra is not here: torch and the exporters, or the
    training modules themselves (the PyInstaller bundle ships only nerdesk.train.config)."""
    name = exc.name or ""
    return name.split(".")[0] in ("torch", "safetensors", "onnx", "onnxscript") or name.startswith("nerdesk.train")
