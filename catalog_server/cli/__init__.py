"""The `catalog-server` command line: a leaf over the library.

One module a command (group); each imports the library it drives inside the command, so
`catalog-server lint --help` starts without loading Flask or the pipeline. Nothing in the
library imports this package.
"""

from __future__ import annotations

import click

from catalog_server.cli.db import db
from catalog_server.cli.docs import docs
from catalog_server.cli.lint import lint
from catalog_server.cli.new import new
from catalog_server.cli.render import render
from catalog_server.cli.run import run
from catalog_server.cli.survey import survey
from catalog_server.cli.sync import sync
from catalog_server.cli.token import token

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="catalog-server")
def main() -> None:
    """Index git catalogs of compose templates and Helm charts, and serve them.

    Settings come from CATALOG_* environment variables (see the README).
    """


for _command in (db, sync, run, token, docs, lint, new, render, survey):
    main.add_command(_command)
