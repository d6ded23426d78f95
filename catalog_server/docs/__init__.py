"""The generated web site: catalog pages from the index, reference pages from the code,
sanitized Markdown, and the mkdocs build. Plain Python: nothing here imports Flask."""

from catalog_server.docs.build import SiteBuildError, build_site, rebuild

__all__ = ["SiteBuildError", "build_site", "rebuild"]
