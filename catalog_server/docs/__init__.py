"""The generated web site: catalog pages from the index, reference pages from the code,
sanitized Markdown, the page layout, the stored (served) site and the static export. Plain
Python: nothing here imports Flask.

Modules: ``pages`` and ``versions`` (page bodies), ``layout`` (the theme around them),
``build`` (project docs with mkdocs, the static export), ``store`` (the served site in the
database), ``reference`` and ``sanitize``.
"""
