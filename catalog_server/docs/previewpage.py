"""A preview's page on the site: what the reviewer of a pull request reads.

``previews/<catalog>~<id>/index.html`` shows the report of
:func:`catalog_server.previewreport.preview_report`: the templates and versions the change
adds, changes or removes, their problems (file and line), the upgrade checks, a diff of
each version's files against the base, and links to the preview's own template pages and
install form (which the preview catalog's pages are, like any catalog's). It is stored with
the preview's pages (part ``preview``, catalog the preview's), so it is written by the sync
process and removed with them. Plain Python: nothing here imports Flask.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_server.docs.layout import PageBody
from catalog_server.docs.pages import page_templates
from catalog_server.models import Catalog, Preview, SitePage
from catalog_server.previewreport import preview_page_path, preview_report

PART = "preview"


def preview_page(session: Session, name: str) -> PageBody | None:
    """The page of preview catalog ``name``; None when it is no preview's."""
    row = session.execute(
        select(Preview, Catalog)
        .join(Catalog, Preview.catalog_id == Catalog.id)
        .where(Catalog.name == name)
    ).first()
    if row is None:
        return None
    preview, catalog = row
    base = session.get(Catalog, preview.base_id)
    report = preview_report(session, preview, catalog, base)
    c, p = quote(base.name, safe=""), quote(preview.name, safe="")
    body = page_templates.get_template("preview.html").render(
        r=report,
        s=report["summary"],
        root="../../",  # the page's folder is previews/<name>/
        api_report=f"/api/v1/catalogs/{c}/previews/{p}/report",
    )
    return PageBody(preview_page_path(name) + "index.html", f"Preview {name}", "preview-page", body)


def write_preview_page(session: Session, name: str, layout, page_row) -> bool:
    """Store the page of preview ``name`` in place of its old one; False when ``name`` is
    no preview's. The caller commits."""
    page = preview_page(session, name)
    session.execute(
        SitePage.__table__.delete().where(SitePage.catalog == name, SitePage.part == PART)
    )
    if page is None:
        return False
    session.execute(
        SitePage.__table__.insert(),
        [page_row(page.path, layout.render(page).encode("utf-8"), PART, name)],
    )
    return True
