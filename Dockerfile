# The catalog server's container image: one image for every role.
#
#   docker build -t catalog-server:0.1.0 .
#   docker run ... catalog-server:0.1.0                 web server on :8080 (the default)
#   docker run ... catalog-server:0.1.0 sync --watch    the sync process
#   docker run ... catalog-server:0.1.0 db upgrade      schema migrations, once per release
#
# It runs as an unprivileged user (uid 10001) and with a read-only root file system: it
# writes only to /var/lib/catalog (the instance folder: the SQLite database when no
# CATALOG_DATABASE_URL is set, the git cache and lock files of the sync process) and /tmp
# (scratch: gunicorn's worker heartbeats, the project docs build). Mount both, for example
# `docker run --read-only --tmpfs /tmp -v catalog-data:/var/lib/catalog ...`.
# See catalog/templates/catalog-server/README.md for the compose stack and the Helm chart.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /opt/catalog-server/app
# Only what the server needs at run time (.dockerignore keeps tests, benchmarks and
# caches out): the package, the bundled catalog, and the web site's sources.
COPY pyproject.toml README.md mkdocs.yml ./
COPY catalog_server ./catalog_server
COPY docs ./docs
COPY site ./site
COPY catalog ./catalog
# An editable install: the server finds mkdocs.yml, docs/, site/ and catalog/ beside its
# package, as in a checkout. Dependencies come as wheels (no compiler needed).
RUN python -m venv /opt/catalog-server/venv \
 && /opt/catalog-server/venv/bin/pip install --no-cache-dir -e /opt/catalog-server/app \
 && /opt/catalog-server/venv/bin/python -m compileall -q /opt/catalog-server/app/catalog_server
# The Helm SDK's wheel carries its 80 MB library three times (wheels hold no symbolic
# links); two of the copies are the library's soname aliases: make them links again.
RUN set -eu; \
    for lib in /opt/catalog-server/venv/lib/python3*/site-packages/helm_python/lib; do \
      [ -d "$lib" ] || continue; \
      for full in "$lib"/libhelm_c.so.*.*.*; do \
        for alias in "$lib/libhelm_c.so" "$lib/libhelm_c.so.0"; do \
          if cmp -s "$alias" "$full"; then ln -sf "$(basename "$full")" "$alias"; fi; \
        done; \
      done; \
    done

FROM ${PYTHON_IMAGE}
# git (and ssh for ssh:// catalogs) for the sync process; nothing else is installed.
# DL3008: not pinned to package versions on purpose. Debian replaces them with each
# security update (a pinned version stops building); the base image pins the release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 catalog \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/catalog --no-create-home \
      --shell /usr/sbin/nologin catalog \
 && mkdir -p /var/lib/catalog \
 && chown 10001:10001 /var/lib/catalog
COPY --from=build /opt/catalog-server /opt/catalog-server
ENV PATH=/opt/catalog-server/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/catalog \
    CATALOG_INSTANCE_DIR=/var/lib/catalog
VOLUME ["/var/lib/catalog"]
WORKDIR /var/lib/catalog
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/healthz', timeout=4)"]
ENTRYPOINT ["catalog-server"]
CMD ["run", "--host", "0.0.0.0", "--port", "8080", "--workers", "2"]
