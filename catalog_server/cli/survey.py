"""`catalog-server survey`: how a whole catalog fares, measured with the real tools.

The measuring is :mod:`catalog_server.survey`'s; this module reads the arguments and prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("survey")
@click.argument("path", type=click.Path(file_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--failures", is_flag=True, help="List every version that did not install.")
def survey(path: str, as_json: bool, failures: bool) -> None:
    """Measure a catalog folder: lint problems by rule, and how many versions install
    with their default answers (compose stacks through `docker compose config`, Helm
    charts through the Helm SDK). Says what is missing when a tool is not installed.
    """
    from catalog_server.problems import SourceError
    from catalog_server.survey import format_survey, survey_catalog

    try:
        result = survey_catalog(
            Path(path), progress=None if as_json else lambda m: click.echo(m + "...", err=True)
        )
    except SourceError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(format_survey(result, failures))
