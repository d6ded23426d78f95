"""Install-manifest rendering: the pure-Python core (no Flask, no database).

- ``answers``: check a user's answers against a version's questions (types, rules,
  ``show_if``, subquestions) and produce the values to apply.
- ``gotemplate``: render the Go text/template subset of ``docker-compose.yml.tpl`` files
  safely, with ``gofunctions`` holding the Go value rules and template functions.
- ``interpolate``: the Compose Specification's ``${VAR}`` interpolation, and the variables
  a text uses, for lint rules.
"""

from catalog_server.manifests.answers import AnswerCheck, check_answers, parse_show_if
from catalog_server.manifests.gotemplate import TemplateError, render
from catalog_server.manifests.interpolate import (
    InterpolationError,
    interpolate,
    interpolate_tree,
    variables_used,
    variables_with_default,
)

__all__ = [
    "AnswerCheck",
    "InterpolationError",
    "TemplateError",
    "check_answers",
    "interpolate",
    "interpolate_tree",
    "parse_show_if",
    "render",
    "variables_used",
    "variables_with_default",
]
