"""mkdocs hooks of the site's theme (mkdocs.yml ``hooks:``).

Every template of the theme renders with autoescape on: anything from a catalog (a
template's name in a page title, say) reaches the page as text, whichever template and
block prints it. Only what is HTML by construction is marked safe: the page's content, the
table of contents, and a title mkdocs took from the page's first heading, which it hands
over escaped already (a title from the nav or the front matter comes as plain text and is
escaped like everything else).
"""

from __future__ import annotations

from markupsafe import Markup


def on_env(env, config, files):
    env.autoescape = True
    return env


def on_page_context(context, page, config, nav):
    # A nav title is set on the page itself; a front-matter one is in its meta.
    if page.title and "title" not in vars(page) and "title" not in page.meta:
        page.title = Markup(page.title)  # noqa: S704  (escaped by mkdocs, from a heading)
    return context
