"""Fixtures for loader tests: fixture catalogs as snapshots, and their git twins."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_server.sources import FolderSnapshot, GitSnapshot

CATALOGS = Path(__file__).parent.parent / "data" / "catalogs"


@pytest.fixture
def folder_snapshot():
    """`folder_snapshot("community")` -> FolderSnapshot of tests/data/catalogs/community."""
    return lambda case: FolderSnapshot(CATALOGS / case)


@pytest.fixture
def git_snapshot(make_catalog_repo):
    """`git_snapshot(case, files={...})` -> GitSnapshot of a fresh repo holding the case."""
    opened = []

    def make(case: str | None = None, files=None, setup=None) -> GitSnapshot:
        repo = make_catalog_repo(fixture=f"catalogs/{case}" if case else None, files=files)
        if setup is not None:
            setup(repo.path)
            repo.commit("setup")
        opened.append(repo.repo)
        return GitSnapshot(repo.repo, "HEAD")

    yield make
    for repo in opened:
        repo.close()
