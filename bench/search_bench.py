"""Reads that miss the answer cache, and how well search ranks (issue #15).

The repeated-URL load runs of bench/run.py measure the answer cache. Here every URL is
asked once, of a server started fresh: search with a fixed, seeded list of distinct
queries, lists filtered by a Kubernetes and a Rancher version (as Rancher's UI asks for
them; half of them searches), template details over distinct templates, version details
over distinct versions and manifests over distinct versions. The server's own
`catalog_answer_cache_total` (summed over its workers through PROMETHEUS_MULTIPROC_DIR)
says how many of them the answer cache served: the hit rate reported beside the figures.

Relevance: for every template of the catalog, the rank of that template when searching
its exact name; and for a fixed list of queries, whether the expected template is in the
top 5.
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import time
from collections.abc import Callable
from urllib.parse import quote, urlencode

SEED = 15
SEARCHES = 400
DETAILS = 300
MANIFESTS = 40
FILTERED = 100
RELEVANCE_PAGE = 10


class Client:
    """One kept-alive HTTP connection; every request timed from send to last byte."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str, body: bytes | None = None) -> tuple[int, bytes, float]:
        method = "GET" if body is None else "POST"
        headers = {"Accept-Encoding": "identity"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, data, time.perf_counter() - started
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, path: str):
        status, data, _ = self.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {data[:300]!r}")
        return json.loads(data)


def cache_counts(client: Client) -> dict[str, float]:
    counts = {"hit": 0.0, "miss": 0.0, "revalidated": 0.0}
    status, data, _ = client.get("/metrics")
    for line in data.decode().splitlines():
        if line.startswith("catalog_answer_cache_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            counts[result] = counts.get(result, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


def all_templates(client: Client, catalog: str) -> list[dict]:
    found, page = [], 1
    while True:
        body = client.json(f"/api/v1/templates?catalog={catalog}&per_page=100&page={page}")
        found += body["items"]
        if page * 100 >= body["total"]:
            return found
        page += 1


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def distinct_queries(templates: list[dict], vocabulary: list[str], count: int = SEARCHES):
    """A fixed list (seeded) of ``count`` distinct queries of the kinds users type: exact
    names, names as words, word prefixes, two words, words with a number, misspelt names,
    categories."""
    rng = random.Random(SEED)
    names = sorted(t["name"] for t in templates)
    categories = sorted({c for t in templates for c in t["categories"]})
    numbers = sorted({n for t in templates for n in t["id"].split("-") if n.isdigit()})
    out: dict[str, None] = {}
    makers: list[Callable[[], str]] = [
        lambda: rng.choice(names),
        lambda: rng.choice(names).lower().replace("-", " "),
        lambda: (w := rng.choice(vocabulary))[: rng.randint(3, len(w))],
        lambda: f"{rng.choice(vocabulary)} {rng.choice(vocabulary)}",
        lambda: f"{rng.choice(vocabulary)} {rng.choice(numbers)[: rng.randint(2, 4)]}",
        lambda: _typo(rng, rng.choice(names).lower()),
        lambda: rng.choice(categories),
    ]
    attempts = 0
    while len(out) < count and attempts < count * 50:
        attempts += 1
        out.setdefault(rng.choice(makers)(), None)
    return list(out)


def _percentiles(times: list[float]) -> dict:
    ordered = sorted(times)
    return {
        "count": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def _timed(client: Client, paths: list[str], statuses: dict) -> list[float]:
    times = []
    for path in paths:
        status, data, seconds = client.get(path)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {data[:300]!r}")
        times.append(seconds)
    return times


def answers(questions: list[dict]) -> dict:
    """Answers to the required questions without a default."""
    sample = {"int": 3, "float": 1.5, "boolean": True, "password": "s3cret-Pass"}
    answers = {}
    for q in questions:
        if q.get("required") and q.get("default") in (None, ""):
            kind = q.get("type", "string")
            answers[q["variable"]] = (
                (q.get("options") or [None])[0] if kind == "enum" else sample.get(kind, "value")
            )
    return answers


def uncached_reads(port: int, catalog: str, vocabulary: list[str]) -> dict:
    """Each URL asked once of a fresh server: search, template and version details,
    manifests. Returns their latencies and the answer cache's counts over each."""
    client = Client(port)
    templates = all_templates(client, catalog)
    rng = random.Random(SEED)
    out: dict = {"templates": len(templates)}
    statuses: dict[str, int] = {}

    queries = distinct_queries(templates, vocabulary)
    before = cache_counts(client)
    times = _timed(client, [f"/api/v1/templates?{urlencode({'q': q})}" for q in queries], statuses)
    after = cache_counts(client)
    out["search"] = _percentiles(times) | _rate(before, after) | {"queries": queries[:12]}

    lists = filtered_lists(queries)
    before = cache_counts(client)
    times = _timed(client, lists, statuses)
    out["filtered"] = (
        _percentiles(times) | _rate(before, cache_counts(client)) | {"lists": lists[:4]}
    )

    picked = rng.sample(templates, min(DETAILS, len(templates)))
    paths = [f"/api/v1/templates/{t['catalog']}/{quote(t['id'])}" for t in picked]
    before = cache_counts(client)
    times = _timed(client, paths, statuses)
    out["template_detail"] = _percentiles(times) | _rate(before, cache_counts(client))

    versions = []
    for t in picked:
        detail = client.json(f"/api/v1/templates/{t['catalog']}/{quote(t['id'])}")
        versions += [
            (t, v["version"], v["links"]["self"]) for v in detail["versions"] if v["links"]
        ]
    chosen = rng.sample(versions, min(DETAILS, len(versions)))
    before = cache_counts(client)
    times = _timed(client, [link for _, _, link in chosen], statuses)
    out["version_detail"] = _percentiles(times) | _rate(before, cache_counts(client))

    manifests, manifest_statuses = [], {}
    for t, _, link in chosen[: MANIFESTS * 2]:
        detail = client.json(link)
        payload = json.dumps(
            {"answers": answers(detail["questions"]), "release": "bench", "namespace": "bench"}
        ).encode()
        status, data, seconds = client.get(f"{link}/manifest", payload)
        manifest_statuses[str(status)] = manifest_statuses.get(str(status), 0) + 1
        if status == 200:
            manifests.append((t["kind"], seconds))
        if len(manifests) >= MANIFESTS:
            break
    out["manifest"] = _percentiles([s for _, s in manifests]) | {
        "kinds": {k: sum(1 for kind, _ in manifests if kind == k) for k in ("compose", "helm")},
        "statuses": manifest_statuses,
    }
    out["statuses"] = statuses
    return out


def filtered_lists(queries: list[str]) -> list[str]:
    """FILTERED distinct list URLs, each filtered by a Kubernetes and a Rancher version
    (seeded), on one of the first three pages; every other one a search of ``queries``."""
    rng = random.Random(SEED + 1)
    paths: dict[str, None] = {}
    while len(paths) < FILTERED:
        i = len(paths)
        params = {
            "kube_version": f"1.{rng.randint(20, 31)}.{rng.randint(0, 15)}",
            "rancher_version": f"2.{rng.randint(5, 10)}.{rng.randint(0, 9)}",
            "page": str(1 + i % 3),
        }
        if i % 2:
            params["q"] = queries[i % len(queries)]
        paths[f"/api/v1/templates?{urlencode(params)}"] = None
    return list(paths)


def _rate(before: dict, after: dict) -> dict:
    hits = after["hit"] - before["hit"]
    misses = after["miss"] - before["miss"]
    total = hits + misses
    return {"cache_hits": hits, "cache_misses": misses, "hit_rate": hits / total if total else 0}


def keyword_queries(templates: list[dict]) -> list[tuple[str, str]]:
    """A fixed list of (query, expected template id) over the synthetic catalog: names as
    people type them (other case, words for hyphens, a number alone, a part of the name
    with its number, a name with a word of its description)."""
    by_id = {t["id"]: t for t in templates}
    picks = []
    for i in (0, 7, 42, 123, 321, 640, 999, 1299):
        compose = [t for t in by_id if t.endswith(f"-{i:04d}") and "chart" not in t]
        if compose:
            picks.append(compose[0])
    for i in (0, 5, 99, 350, 699):
        helm = [t for t in by_id if t.endswith(f"chart-{i:04d}")]
        if helm:
            picks.append(helm[0])
    out = []
    for n, slug in enumerate(picks):
        t = by_id[slug]
        name, folder = t["name"], slug.split("*")[-1]
        word, number = folder.split("-")[0], folder.split("-")[-1]
        variants = [
            name.upper(),
            folder.replace("-", " "),
            f"{number} {word}",
            f"{word[:4]} {number}",
            f"{folder} {'chart' if t['kind'] == 'helm' else 'compose'}",
        ]
        out.append((variants[n % len(variants)], slug))
        out.append((variants[(n + 2) % len(variants)], slug))
    return out


def helm_index(port: int, catalog: str) -> dict:
    """Two GETs of the catalog's index.yaml (gzip), on one kept-alive connection, so by one
    worker (the first builds the index, the second is answered from what it kept; each web
    worker builds its own copy): time to the first byte and in all, and its size."""
    out = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    for _ in range(2):
        started = time.perf_counter()
        conn.request("GET", f"/helm/{catalog}/index.yaml", headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        first_byte = time.perf_counter() - started
        data = response.read()
        total = time.perf_counter() - started
        out.append({"status": response.status, "ttfb_s": first_byte, "total_s": total,
                    "gzip_bytes": len(data)})  # fmt: skip
    conn.close()
    import gzip

    out[0]["bytes"] = len(gzip.decompress(data)) if data[:2] == b"\x1f\x8b" else len(data)
    return {"first": out[0], "second": out[1]}


def relevance(port: int, catalog: str, sample: int | None = None) -> dict:
    """Rank of every template (or of a seeded sample of ``sample``) when searching its
    exact name, and the keyword list."""
    client = Client(port)
    everything = all_templates(client, catalog)
    templates = everything
    if sample is not None and sample < len(everything):
        templates = random.Random(SEED).sample(everything, sample)
    ranks: list[int | None] = []
    misses = []
    for t in templates:
        body = client.json(
            f"/api/v1/templates?{urlencode({'q': t['name'], 'per_page': RELEVANCE_PAGE})}"
        )
        found = [(i["catalog"], i["id"]) for i in body["items"]]
        key = (t["catalog"], t["id"])
        rank = found.index(key) + 1 if key in found else None
        ranks.append(rank)
        if rank != 1 and len(misses) < 10:
            misses.append({"name": t["name"], "id": t["id"], "rank": rank, "first": found[:3]})
    keywords = []
    for q, expected in keyword_queries(everything):
        body = client.json(f"/api/v1/templates?{urlencode({'q': q, 'per_page': 5})}")
        found = [i["id"] for i in body["items"]]
        keywords.append({"q": q, "expected": expected, "rank": found.index(expected) + 1
                         if expected in found else None})  # fmt: skip
    n = len(ranks)
    return {
        "templates": n,
        "catalog_templates": len(everything),
        "first": sum(r == 1 for r in ranks) / n,
        "top5": sum(r is not None and r <= 5 for r in ranks) / n,
        "not_in_first_page": sum(r is None for r in ranks),
        "not_first_examples": misses,
        "keywords": keywords,
        "keywords_top5": sum(k["rank"] is not None for k in keywords),
    }


def verdicts(label: str, reads: dict, rel: dict, limit_ms: float) -> list[tuple[str, str, bool]]:
    s = reads["search"]
    return [
        (
            f"{label}: uncached search p95 < {limit_ms:.0f} ms",
            f"{s['p95_ms']:.1f} ms (p50 {s['p50_ms']:.1f}, {s['count']} distinct queries, "
            f"answer cache hit rate {s['hit_rate']:.0%})",
            s["p95_ms"] < limit_ms,
        ),
        (
            f"{label}: exact name ranks its template first for >= 98%",
            f"{rel['first']:.2%} of {rel['templates']} (top 5: {rel['top5']:.2%})",
            rel["first"] >= 0.98,
        ),
        (
            f"{label}: every keyword query finds its template in the top 5",
            f"{rel['keywords_top5']} of {len(rel['keywords'])}",
            rel["keywords_top5"] == len(rel["keywords"]),
        ),
    ]


def report_lines(label: str, reads: dict, rel: dict) -> list[str]:
    rows = [
        ("search, distinct queries", reads["search"]),
        ("list filtered by Kubernetes and Rancher versions, distinct", reads["filtered"]),
        ("template detail, distinct templates", reads["template_detail"]),
        ("version detail, distinct versions", reads["version_detail"]),
    ]
    lines = [
        "",
        f"Uncached reads, {label} (each URL once, fresh server, one client connection):",
        "",
        "| read | count | p50 ms | p95 ms | max ms | answer cache hits |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['count']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
            f"{r['max_ms']:.1f} | {r['cache_hits']:.0f} of "
            f"{r['cache_hits'] + r['cache_misses']:.0f} ({r['hit_rate']:.0%}) |"
        )
    m = reads["manifest"]
    lines.append(
        f"| manifest, distinct versions ({m['kinds']['compose']} compose, {m['kinds']['helm']} "
        f"Helm) | {m['count']} | {m['p50_ms']:.1f} | {m['p95_ms']:.1f} | {m['max_ms']:.1f} | "
        "(POST: never cached) |"
    )
    sampled = (
        f" (a seeded sample of {rel['templates']} of {rel['catalog_templates']})"
        if rel["templates"] < rel["catalog_templates"]
        else ""
    )
    lines += [
        "",
        f"Relevance, {label}: searching each template's exact name{sampled} ranks it first for "
        f"{rel['first']:.2%} of {rel['templates']} templates (top 5: {rel['top5']:.2%}; "
        f"not in the first {RELEVANCE_PAGE}: {rel['not_in_first_page']}); keyword queries: "
        f"{rel['keywords_top5']} of {len(rel['keywords'])} find their template in the top 5.",
    ]
    return lines
