"""Install-manifest rendering: the pure-Python core (no Flask, no database).

- ``answers``: check a user's answers against a version's questions (types, rules,
  visibility, subquestions) and produce the values to apply.
- ``conditions``: when a question is shown (``if``, ``show_if``, subquestion conditions),
  as Rancher's dashboard evaluates them.
- ``gotemplate``: render the Go text/template subset of ``docker-compose.yml.tpl`` files
  safely: ``goparse`` parses, ``govalues`` holds the Go value rules and ``gofunctions``
  the template functions.
- ``interpolate``: the Compose Specification's ``${VAR}`` interpolation, and the variables
  a text uses, for lint rules.
- ``model``: what every manifest is made of (``Manifest``, ``ManifestError``, targets).
- ``compose`` and ``helm``: the two renderers.

The package itself imports nothing: import the module you need.
"""
