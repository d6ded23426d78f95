"""What a version gets from its files before it is written: its created time, its chart
archive's digest and size, and its images (rendered from that archive where it changed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_server import helmsdk, images
from catalog_server.helmrepo import ChartNotPackable, chart_archive, chart_digest
from catalog_server.loaders.model import LoadedTemplate, LoadedVersion
from catalog_server.models import (
    Template,
    TemplateVersion,
)
from catalog_server.problems import Problem
from catalog_server.releases import default_namespace, default_release
from catalog_server.sources import OpenedSource

if TYPE_CHECKING:
    pass


def epoch_time(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def version_folder(template: LoadedTemplate, version: LoadedVersion) -> str:
    return "/".join(p for p in (template.folder, version.folder) if p)


Stamp = tuple[datetime | None, str | None, int | None]  # (created, chart digest, size)


def previous_images(session: Session, catalog_id: int, slugs: list[str]):
    """{(template slug, version folder): (chart digest, images)} of the indexed versions."""
    if not slugs:
        return {}
    rows = session.execute(
        select(
            Template.slug,
            TemplateVersion.folder,
            TemplateVersion.chart_digest,
            TemplateVersion.images,
        )  # fmt: skip
        .join(Template, Template.id == TemplateVersion.template_id)
        .where(
            Template.catalog_id == catalog_id,
            Template.slug.in_(slugs),
            TemplateVersion.images.is_not(None),
        )  # fmt: skip
    ).all()
    return {(row.slug, row.folder): (row.chart_digest, row.images) for row in rows}


class ChangeTimes:
    """The time of the newest commit that changed each folder, from one walk of the history
    for the folders named up front (a sync names every folder a version can be in); a
    folder not named then is looked up on its own when asked for."""

    def __init__(self, opened: OpenedSource, folders: set[str]):
        self.opened = opened
        self.asked = set(folders)
        self.times = opened.last_change_times(self.asked)

    def of(self, folders: list[str]) -> dict[str, int]:
        missing = set(folders) - self.asked
        if missing:
            self.times.update(self.opened.last_change_times(missing))
            self.asked |= missing
        return self.times


def version_stamps(
    opened: OpenedSource,
    loaded: list[LoadedTemplate],
    previous: dict,
    render_images: bool,
    change_times: ChangeTimes | None = None,
    packaged: dict | None = None,
) -> dict[int, Stamp]:
    """created time, chart digest and archive size of every loaded version, by
    id(version); and the images of every usable chart version (`version.images`).

    created is the time of the last commit that changed the version's folder, so it does
    not move when other templates change, and the chart archive (whose mtimes it pins) is
    the same whichever sync, incremental or cold, built it. A version whose digest is the
    one indexed keeps its images; the others are rendered from the archive just built.
    ``packaged``: archives built already (published ahead, :mod:`.early`), by (template id,
    version folder).
    """
    folders = [version_folder(t, v) for t in loaded for v in t.versions]
    if change_times is None:
        change_times = ChangeTimes(opened, set(folders))
    times = change_times.of(folders)
    fallback = opened.snapshot.commit_time
    stamps: dict[int, Stamp] = {}
    with images.Renderer() as renderer:
        found = ImageLookup(previous, renderer, render_images, packaged or {})
        for template in loaded:
            for version in template.versions:
                created = epoch_time(times.get(version_folder(template, version), fallback))
                digest = size = None
                if template.kind == "helm" and version.usable:
                    digest, size = chart_version(template, version, created, found)
                stamps[id(version)] = (created, digest, size)
        results = renderer.results()
    for key, version in found.pending.items():
        rendered, note = results[key]
        version.images = images.finish({f.path: f.content for f in version.files}, rendered, note)
    return stamps


class ImageLookup:
    """What chart_version needs to give a version its images."""

    def __init__(
        self, previous: dict, renderer: images.Renderer, render_images: bool, packaged: dict
    ):
        self.previous = previous
        self.packaged = packaged
        self.renderer = renderer
        self.render = render_images and helmsdk.available()
        self.note = None if render_images else images.RENDER_OFF
        if render_images and not self.render:
            self.note = images.SDK_MISSING
        self.pending: dict[int, LoadedVersion] = {}


def chart_version(template, version, created, found: ImageLookup) -> tuple[str | None, int | None]:
    """The digest and archive size of a chart version; its images set, or submitted for
    rendering."""
    chart, name = images.chart_name(template, version)
    files = [(f.path, f.content) for f in version.files]
    early = found.packaged.pop((template.id, version.folder), None)
    try:
        if early is not None and early.created == created:  # the same files, name and time
            archive = early.archive
        else:
            archive = chart_archive(name, files, created)
    except ChartNotPackable as exc:
        version.problems.append(
            Problem(
                "helm.package",
                "error",
                f"the chart cannot be packaged, so it is left out of the Helm repository: {exc}",
                file=version_folder(template, version),
            )
        )
        version.images = images.finish(dict(files), None, f"the chart cannot be packaged: {exc}")
        return None, None
    digest = chart_digest(archive)
    old_digest, old = found.previous.get((template.id, version.folder), (None, None))
    # Images read from the values only because rendering was not possible are found again.
    stale = (
        found.render
        and old is not None
        and old.get("source") != "rendered"
        and (old.get("note") in (images.SDK_MISSING, images.RENDER_OFF))
    )
    if old is not None and old_digest == digest and not stale:
        version.images = images.ChartImages.from_json(old)
    elif found.render:
        job = images.RenderJob(archive, default_release(name, chart), default_namespace(chart))
        found.renderer.submit(id(version), job)
        found.pending[id(version)] = version
    else:
        version.images = images.finish(dict(files), None, found.note)
    return digest, len(archive)
