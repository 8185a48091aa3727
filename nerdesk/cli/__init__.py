"""The ``nerdesk`` command: a thin shell over the core. One module per command group, as in spaCy.

Each command parses its arguments, calls one core function, and prints the result (``--json``
where a script wants data). A :class:`~nerdesk.core.errors.NerdeskError` becomes a clean
message and exit status 1, never a traceback.
"""

from __future__ import annotations

import importlib

import click

from nerdesk.cli._util import cli

# Command modules register themselves on ``cli`` when imported.
_COMMAND_MODULES = [
    "nerdesk.cli.project_cmds",  # init, import, export, stats, search
    "nerdesk.cli.review_cmds",  # queue, errors, auto-accept
    "nerdesk.cli.model_cmds",  # evaluate, models, train
    "nerdesk.cli.loop_cmds",  # versions, promote, rollback, report
    "nerdesk.cli.terms_cmds",  # terms add|list|remove|disable|enable|suggest|history|match|rule
    "nerdesk.cli.team_cmds",  # whoami, review, agreement, adjudicate
    "nerdesk.cli.label_cmds",  # labels add|rename|merge|split|retire|..., guideline show|edit|diff
    "nerdesk.cli.app_cmd",  # app (and the default with no arguments)
]


def _load_commands() -> None:
    for name in _COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a module not written yet must not break the rest
            if exc.name != name:
                raise


_load_commands()


def _acting_as(key: str):
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        from nerdesk.core import review

        review.OVERRIDE[key] = value  # None clears what an earlier invocation (a test) set

    return callback


# ``nerdesk --user NAME --tier TIER COMMAND``: every command acts as NAME at TIER (issue 16)
cli.params += [
    click.Option(
        ["--user"],
        default=None,
        expose_value=False,
        callback=_acting_as("user"),
        help="Act as this person (else NERDESK_USER, the config file, the app's choice, the login).",
    ),
    click.Option(
        ["--tier"],
        type=click.Choice(("annotator", "reviewer", "expert")),
        default=None,
        expose_value=False,
        callback=_acting_as("tier"),
        help="Act at this review tier (else NERDESK_TIER, the config file, the app's choice, annotator).",
    ),
]


def main() -> None:
    cli(prog_name="nerdesk")
