"""The site's page layout, for pages whose body is already HTML: catalog pages and the home
page.

Those pages are rendered with the theme (``site/theme``, ``main.html``) exactly as mkdocs
renders a page, through mkdocs' own configuration, navigation and template context, but
without its Markdown pass or a build of the whole site: one page costs one template
render, so the sync process can rebuild a single template's pages. The project docs
(Markdown in ``docs/``) still go through a real mkdocs build (:mod:`catalog_server.docs.build`),
once per release.

Plain Python: nothing here imports Flask.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from markupsafe import Markup

from catalog_server.config import PROJECT_ROOT

MKDOCS_CONFIG = PROJECT_ROOT / "mkdocs.yml"
DOCS_DIR = PROJECT_ROOT / "docs"
THEME_DIR = PROJECT_ROOT / "site" / "theme"
HOME_PATH = "index.html"


@dataclass(frozen=True)
class PageBody:
    """One page of the site before the layout: where it goes, its title, the body class
    the theme gives it, and its HTML body (every string from a catalog already escaped or
    sanitized)."""

    path: str  # "catalogs/library/neuvector/index.html"
    title: str
    page_class: str
    body: str


def load_mkdocs_config(**overrides):
    """The project's ``mkdocs.yml``, loaded and validated (``overrides``: docs_dir, site_dir).

    Raises mkdocs' ConfigurationError when it is invalid, OSError when it is missing.
    """
    from mkdocs.config import load_config

    # mkdocs logs every page that is not in the nav (every template page) at INFO.
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    return load_config(config_file=str(MKDOCS_CONFIG), **overrides)


class SiteLayout:
    """Renders :class:`PageBody` objects into whole HTML pages with the site's theme.

    Made once per build (it loads ``mkdocs.yml`` and the theme); not for use by two
    threads at once.
    """

    def __init__(self) -> None:
        from mkdocs.structure.files import File, Files
        from mkdocs.structure.nav import get_navigation

        self._file = File
        self.config = load_mkdocs_config()
        self.files = Files([self._virtual_file(src) for src in _nav_sources(self.config)])
        self.nav = get_navigation(self.files, self.config)
        # The theme's hooks run as in a mkdocs build (site/hooks.py: autoescape).
        env = self.config.plugins.on_env(
            self.config.theme.get_env(), config=self.config, files=self.files
        )
        self.template = env.get_template("main.html")

    def render(self, page: PageBody) -> str:
        """The whole HTML page, links relative to ``page.path`` as mkdocs makes them."""
        from mkdocs.commands.build import get_context
        from mkdocs.structure.pages import Page

        if page.path == HOME_PATH and self.nav.homepage is not None:
            mk_page = self.nav.homepage
        else:
            src = page.path.removesuffix(".html") + ".md"
            mk_page = Page(None, self._virtual_file(src), self.config)
        mk_page.title = page.title
        mk_page.meta = {"title": page.title, "page_class": page.page_class}
        # As the Markdown pass left them: without the trailing newline.
        mk_page.content = Markup(page.body.rstrip("\n"))  # noqa: S704  (escaped, sanitized)
        mk_page.active = True
        try:
            context = get_context(self.nav, self.files, self.config, mk_page)
            context = self.config.plugins.on_page_context(
                context, page=mk_page, config=self.config, nav=self.nav
            )
            return self.template.render(context)
        finally:
            mk_page.active = False
            mk_page.content = None

    def _virtual_file(self, src: str):
        """A Markdown source that is not on disk: only where its page goes matters."""
        config = self.config
        return self._file(src, None, config.site_dir, config.use_directory_urls)


def _nav_sources(config) -> list[str]:
    """Every Markdown source the configured nav names (``index.md``, ``quickstart.md``...)."""
    found: list[str] = []

    def walk(item) -> None:
        if isinstance(item, str):
            if item.endswith(".md"):
                found.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(config["nav"] or [])
    return found
