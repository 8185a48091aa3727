"""What CLI tests share: running a command, and a bundle of gold-corrected segments."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from nerdesk.cli import cli


def run(*args) -> str:
    """Run ``nerdesk ARGS``; its output (the test fails on a non-zero exit)."""
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def gold_bundle(tmp_path: Path, corpus: Path, n: int) -> Path:
    """A bundle of the first ``n`` sentences of a JSONL corpus, its gold spans as the corrections,
    through init, import --annotations and export."""
    small = tmp_path / "small.jsonl"
    lines = corpus.read_text(encoding="utf-8").splitlines(True)
    small.write_text("".join(lines[:n]), encoding="utf-8")
    p = tmp_path / "s.nerdesk"
    run("init", p)
    run("import", p, small, "--annotations", "--add-labels")
    bundle = tmp_path / "s.zip"
    run("export", p, "--format", "bundle", "--out", bundle)
    return bundle
