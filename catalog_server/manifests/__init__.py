"""Install-manifest rendering: the pure-Python core (no Flask, no database).

- ``answers``: check a user's answers against a version's questions (types, rules,
  visibility, subquestions) and produce the values to apply.
- ``conditions``: when a question is shown (``if``, ``show_if``, subquestion conditions),
  as Rancher's dashboard evaluates them.
- ``gotemplate``: render the Go text/template subset of ``docker-compose.yml.tpl`` files
  safely, with ``gofunctions`` holding the Go value rules and template functions.
- ``interpolate``: the Compose Specification's ``${VAR}`` interpolation, and the variables
  a text uses, for lint rules.
"""

from catalog_server.manifests.answers import AnswerCheck, check_answers, visibility
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
    "render",
    "variables_used",
    "variables_with_default",
    "visibility",
]
