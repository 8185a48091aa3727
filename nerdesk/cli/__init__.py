"""The ``nerdesk`` command: a thin shell over the core. One module per command group, as in spaCy.

Each command parses its arguments, calls one core function, and prints the result (``--json``
where a script wants data). A :class:`~nerdesk.core.errors.NerdeskError` becomes a clean
message and exit status 1, never a traceback.
"""

from __future__ import annotations

import importlib

from nerdesk.cli._util import cli

# Command modules register themselves on ``cli`` when imported.
_COMMAND_MODULES = [
    "nerdesk.cli.project_cmds",  # init, import, export, stats, search
    "nerdesk.cli.review_cmds",  # queue, errors, auto-accept
    "nerdesk.cli.model_cmds",  # evaluate, models, train
    "nerdesk.cli.loop_cmds",  # versions, promote, rollback, report
    "nerdesk.cli.terms_cmds",  # terms add|list|remove|disable|enable|suggest|history|match|rule
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


def main() -> None:
    cli(prog_name="nerdesk")
