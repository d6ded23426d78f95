"""A non-editable install works on its own: the wheel carries the bundled catalog, the
project docs, mkdocs.yml and the site's theme, and its `catalog-server` lints and syncs
them in a fresh virtual environment, away from the checkout.

The wheel is built without build isolation (setuptools from the project's environment) and
installed without its dependencies into a virtual environment that sees the project's
environment's packages (a path in a .pth file, so the project's editable install of this
package is not among them): only this package comes from the wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What `pip install .` reads from a checkout.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "mkdocs.yml", "catalog_server", "catalog",
           "docs", "site")  # fmt: skip


def _run(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


def test_the_wheel_lints_and_syncs_the_bundled_catalog_in_a_fresh_environment(tmp_path):
    # Build from a copy, so the checkout gets no build/ or egg-info folder.
    source = tmp_path / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "instance")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist",
                  source])  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("catalog_server-*.whl")

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", venv])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    site_packages = Path(purelib.stdout.strip())
    (site_packages / "project-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel])
    assert installed.returncode == 0, installed.stderr

    work = tmp_path / "work"  # not the checkout: nothing may be found beside the package
    work.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "CATALOG_INSTANCE_DIR": str(work / "instance")}  # fmt: skip
    code = "import catalog_server; print(catalog_server.__file__)"
    where = _run([python, "-c", code], cwd=work, env=env)
    assert Path(where.stdout.strip()).is_relative_to(site_packages)
    bundled = site_packages / "catalog_server" / "bundled"

    command = venv / "bin" / "catalog-server"
    lint = _run([command, "lint", bundled / "catalog"], cwd=work, env=env)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout.splitlines()[-1].startswith("0 errors, ")

    upgrade = _run([command, "db", "upgrade"], cwd=work, env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    sync = _run([command, "sync"], cwd=work, env=env)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert "library: indexed folder" in sync.stdout
    assert "0 failed to load" in sync.stdout
    # The site's pages need mkdocs.yml, the project docs and the theme from the wheel.
    assert "web site: project docs rebuilt" in sync.stdout
    assert (work / "instance" / "catalog.db").is_file()
