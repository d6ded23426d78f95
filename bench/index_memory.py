"""Peak memory of serving a large Helm index.yaml, without generating a large catalog.

    python bench/index_memory.py make SMALL_DB BIG_DB [--charts 5000] [--versions 10]
    python bench/index_memory.py measure BIG_DB [CATALOG]

``make`` copies ``SMALL_DB`` (a SQLite database holding a synced Helm-only catalog, e.g.
``helm-small`` synced with bench/sync_child.py) to ``BIG_DB`` and fills its first Helm
catalog with ``charts`` x ``versions`` chart versions (default 50,000, the Helm half of the
``huge`` catalog), each row a copy of a synced one under a new chart name, version and
digest. Only the rows the index reads are made (no chart files, so archives 404).

``measure`` runs in a fresh process: the app, one GET of ``/helm/<catalog>/index.yaml``
with ``Accept-Encoding: gzip`` through Flask's test client, then prints one JSON object:
seconds, status, body bytes, ``maxrss_mib`` (getrusage peak) and ``vmrss_mib`` (VmRSS of
/proc/self/status after the GET) and ``vmrss_before_mib`` (after the app was made).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path


def _app(db: Path):
    db = db.resolve()
    work = db.parent / "index-memory-work"
    os.environ.update(CATALOG_DATABASE_URL=f"sqlite:///{db}", CATALOG_INSTANCE_DIR=str(work),
                      CATALOG_CACHE_DIR=str(work / "cache"))  # fmt: skip
    from catalog_server.app import create_app

    return create_app()


def make(small: Path, big: Path, charts: int, versions: int) -> None:
    from sqlalchemy import insert, inspect, select

    from catalog_server.db import db
    from catalog_server.models import Catalog, Template, TemplateVersion

    shutil.copyfile(small, big)
    app = _app(big)
    with app.app_context():
        catalog = db.session.scalar(
            select(Catalog).join(Template).where(Template.kind == "helm").limit(1)
        )
        models = db.session.scalars(
            select(Template).where(Template.catalog_id == catalog.id, Template.kind == "helm")
        ).all()
        template_columns = [a.key for a in inspect(Template).column_attrs if a.key != "id"]
        version_columns = [a.key for a in inspect(TemplateVersion).column_attrs if a.key != "id"]
        for n in range(charts):
            model = models[n % len(models)]
            row = {c: getattr(model, c) for c in template_columns}
            slug = f"{model.slug}-{n:05d}"
            row.update(slug=slug, folder=f"charts/{slug}", name=slug, meta=dict(model.meta))
            template_id = db.session.execute(
                insert(Template).returning(Template.id), [row]
            ).scalar_one()
            first = model.versions[0]
            rows = []
            for position in range(versions):
                version = f"1.{versions - 1 - position}.{n % 7}"
                meta = dict(first.meta or {})
                meta["chart"] = dict(meta.get("chart") or {}, name=slug, version=version)
                v = {c: getattr(first, c) for c in version_columns}
                v.update(
                    template_id=template_id, version=version, position=position, meta=meta,
                    folder=f"charts/{slug}/{version}",
                    chart_digest=hashlib.sha256(f"{slug} {version}".encode()).hexdigest(),
                )  # fmt: skip
                rows.append(v)
            db.session.execute(insert(TemplateVersion), rows)
        db.session.execute(
            Catalog.__table__.update()
            .where(Catalog.id == catalog.id)
            .values(generation=Catalog.generation + 1)
        )
        db.session.commit()
        print(f"{catalog.name}: {charts * versions} chart versions added to {big}")


def _vmrss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(big: Path, catalog: str | None) -> None:
    from sqlalchemy import select

    from catalog_server.db import db
    from catalog_server.models import Catalog

    app = _app(big)
    with app.app_context():
        catalog = catalog or db.session.scalar(select(Catalog.name).limit(1))
        db.session.remove()
    before = _vmrss_mib()
    client = app.test_client()
    started = time.perf_counter()
    response = client.get(f"/helm/{catalog}/index.yaml", headers={"Accept-Encoding": "gzip"})
    seconds = time.perf_counter() - started
    body = response.get_data()
    result = {
        "catalog": catalog,
        "status": response.status_code,
        "encoding": response.headers.get("Content-Encoding"),
        "bytes": len(body),
        "seconds": round(seconds, 2),
        "vmrss_before_mib": round(before, 1),
        "vmrss_mib": round(_vmrss_mib(), 1),
        "maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["make"]:
        option = {"--charts": 5000, "--versions": 10}
        for key in option:
            if key in args:
                option[key] = int(args[args.index(key) + 1])
        make(Path(args[1]), Path(args[2]), option["--charts"], option["--versions"])
    elif args[:1] == ["measure"]:
        measure(Path(args[1]), args[2] if len(args) > 2 else None)
    else:
        sys.exit(__doc__)
