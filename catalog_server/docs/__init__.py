"""The generated web site: catalog pages from the index, reference pages from the code,
sanitized Markdown, the page layout, the stored (served) site and the static export. Nothing
here uses Flask or a request: pages are made from the index through a SQLAlchemy session
(the models' module loads Flask-SQLAlchemy), so the sync process and the export build them.

Modules: ``pages`` and ``versions`` (page bodies), ``layout`` (the theme around them),
``build`` (project docs with mkdocs, the static export), ``store`` (the served site in the
database), ``reference`` and ``sanitize``.
"""
