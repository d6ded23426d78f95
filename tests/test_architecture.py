"""The shape of the package: imports run one way, and what a command needs is all it loads.

The import contracts themselves are in pyproject.toml ([tool.importlinter]); `make lint`
checks them, and so does this file, with the checks contracts cannot state.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

WEB_STACK = ("flask", "werkzeug", "sqlalchemy", "flask_sqlalchemy", "flask_migrate")


def _cycles(graph) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    imported = graph.find_modules_directly_imported_by(child)
                    work.append((child, iter(sorted(imported))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_no_import_cycle():
    """No module imports, even lazily inside a function, one that imports it back."""
    graph = grimp.build_graph("catalog_server")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.d")
    graph.add_import(importer="a.d", imported="a.b")
    assert _cycles(graph) == [["a.b", "a.c", "a.d"]]


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([lint_imports], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


@pytest.mark.parametrize(
    "module",
    [
        "catalog_server",
        "catalog_server.loaders",
        "catalog_server.validation",
        "catalog_server.lint",
    ],
)
def test_pipeline_stages_load_no_web_stack(module):
    loaded = _loaded_after(f"import {module}")
    assert not {m.split(".")[0] for m in loaded} & set(WEB_STACK)


def test_the_command_line_loads_only_click_until_a_command_runs():
    """`catalog-server lint --help` and friends start quickly: parsing the command line
    loads neither the web stack nor the pipeline."""
    loaded = _loaded_after("import catalog_server.cli")
    assert not {m.split(".")[0] for m in loaded} & set(WEB_STACK)
    assert not {
        m for m in loaded if m.startswith(("catalog_server.loaders", "catalog_server.validation"))
    }


def test_gunicorn_still_finds_the_app_factory():
    loaded = _loaded_after("import catalog_server\nassert callable(catalog_server.create_app)")
    assert "flask" in loaded


def test_the_uncached_reads_are_listed_once_by_endpoint_and_path(app):
    """The API's check (by endpoint) and the fast path before Flask (by path) read one
    list; each endpoint named there is served at the path named beside it."""
    from catalog_server.responsecache import UNCACHED_API_ENDPOINTS

    rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    assert {endpoint: rules.get(endpoint) for endpoint in UNCACHED_API_ENDPOINTS} == (
        UNCACHED_API_ENDPOINTS
    )
