"""`catalog-server lint`: check a catalog's working tree the way the server will.

    catalog-server lint [PATH ...] [--format text|json|github] [--changed-since REF]
                        [--strict] [--list-rules]

Each PATH is a catalog root (default `.`). Exit status: 0 without errors (warnings too
unless --strict), 1 with errors, 2 on a usage error. The checks are
:mod:`catalog_server.lint`'s; this module reads the arguments and prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

FORMATS = ("text", "json", "github")


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(file_okay=False, exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for workflow annotations.",
)
@click.option(
    "--changed-since",
    "ref",
    metavar="REF",
    help="Only templates changed since this git ref, plus version rules.",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--list-rules", is_flag=True, help="Print every rule id and exit.")
def lint(paths: tuple[str, ...], fmt: str, ref: str | None, strict: bool, list_rules: bool) -> None:
    """Check catalog folders (default: the current folder) as the server would.

    Exits 0 when there is no error (and with --strict no warning), 1 otherwise.
    """
    from catalog_server import helmsdk
    from catalog_server.config import ConfigError, Settings
    from catalog_server.lint import format_github, format_rules, format_text, lint_catalog, located
    from catalog_server.problems import Problem, SourceError

    if list_rules:
        click.echo(format_rules())
        return

    try:
        # The same limits as the server's: Helm's lint renders every template.
        helmsdk.configure_from(Settings.from_env())
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    problems: list[Problem] = []
    for root in paths or (".",):
        try:
            found = lint_catalog(Path(root), ref)
        except SourceError as exc:
            raise click.UsageError(str(exc)) from None
        problems.extend(located(found, root))
    if fmt == "json":
        click.echo(json.dumps([p.to_dict() for p in problems], indent=2))
    elif fmt == "github":
        click.echo(format_github(problems))
    else:
        click.echo(format_text(problems))
    failing = {"error", "warning"} if strict else {"error"}
    sys.exit(1 if any(p.severity in failing for p in problems) else 0)
