"""``nerdesk app [PROJECT] [--demo]``: open the review app (PySide6 is imported only here)."""

from __future__ import annotations

import sys

import click

from nerdesk.cli._util import cli


@cli.command("app")
@click.argument("project", required=False, type=click.Path(dir_okay=False))
@click.option("--demo", is_flag=True, help="Open the demo project (created on first use).")
@click.option("--selftest", is_flag=True, hidden=True, help="Build the window, edit, undo, exit.")
def app_cmd(project: str | None, demo: bool, selftest: bool) -> None:
    """Open the review app (the default when nerdesk is run without a command)."""
    from nerdesk.ui.app import run

    argv = [project] if project else []
    if demo:
        argv.append("--demo")
    if selftest:
        argv.append("--selftest")
    sys.exit(run(argv))
