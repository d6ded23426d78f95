"""Build step that pyproject.toml cannot state: the wheel carries the bundled catalog, the
project docs, mkdocs.yml and the site's theme inside the package (`catalog_server/bundled/`),
so that a non-editable install serves and indexes them as a checkout does."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("catalog", "docs", "site", "mkdocs.yml")


class BuildWithBundledFiles(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return  # an editable install reads them from the checkout
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "catalog_server" / "bundled"
        for name in BUNDLED:
            source = root / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    target / name,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
            elif source.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
            else:  # a wheel without them would start, then fail to build its site
                raise SystemExit(f"{source} is missing: the wheel needs it (see MANIFEST.in)")


setup(cmdclass={"build_py": BuildWithBundledFiles})
