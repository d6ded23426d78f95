"""Ranked search over a fixture catalog, on SQLite (FTS5) and on PostgreSQL (tsvector,
pg_trgm): what a user sees in the order of `/api/v1/templates?q=...`."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from catalog_server import queries, search
from catalog_server.db import db


@pytest.fixture
def indexed(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="search-catalog")
    summary = sync(repo.source("lib"))
    assert summary.status == "updated" and summary.templates_total == 10, summary
    return repo


def ids(client, query: str, status: int = 200) -> list[str]:
    response = client.get(f"/api/v1/templates?{query}")
    assert response.status_code == status, (query, response.get_data(True))
    body = response.json
    assert body["total"] == len(body["items"])
    return [t["id"].split("*")[-1] for t in body["items"]]  # "charts*mysql": mysql


def is_postgres(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def test_the_template_named_first_then_names_starting_with_it(indexed, client):
    found = ids(client, "q=prometheus")
    assert found[:3] == ["prometheus", "prometheus-adapter", "kube-prometheus-stack"]
    # Named in keywords and description before named in the description alone, and the
    # template that has the word only in its README comes last.
    assert found.index("cost-analyzer") < found.index("karma")
    assert found[-1] == "grafana"
    assert set(found) == {
        "prometheus",
        "prometheus-adapter",
        "kube-prometheus-stack",
        "cost-analyzer",
        "elasticsearch-exporter",
        "karma",
        "grafana",
    }


def test_keywords_weigh_more_than_the_description(indexed, client):
    assert ids(client, "q=mysql") == ["mysql", "mariadb", "gcloud-sqlproxy"]


def test_the_query_is_read_case_and_punctuation_blind(indexed, client):
    assert ids(client, "q=Prometheus-Adapter")[0] == "prometheus-adapter"
    assert ids(client, "q=prometheus adapter")[0] == "prometheus-adapter"
    assert ids(client, "q=KUBE prometheus")[0] == "kube-prometheus-stack"


def test_partial_words_find_templates(indexed, client):
    found = ids(client, "q=prom")
    # Both names start with "prom": the shorter, closer name first is not promised, but
    # both come before templates that only mention it.
    assert set(found[:2]) == {"prometheus", "prometheus-adapter"}
    assert ids(client, "q=elastic")[0] == "elasticsearch-exporter"


def test_a_misspelt_name_is_found_on_postgresql_with_pg_trgm(indexed, client, app):
    found = ids(client, "q=promethues")
    if is_postgres(app):
        assert found and found[0] == "prometheus"
    else:
        assert found == []  # FTS5 matches words and prefixes only


def test_without_pg_trgm_search_still_ranks(indexed, client, app, monkeypatch):
    if not is_postgres(app):
        pytest.skip("pg_trgm is a PostgreSQL extension")
    monkeypatch.setattr(search.PostgresIndex, "trigram", lambda self, session: False)
    assert ids(client, "q=promethues&per_page=21") == []
    assert ids(client, "q=prometheus&per_page=22")[:2] == ["prometheus", "prometheus-adapter"]


def answer(client, query: str) -> dict:
    response = client.get(f"/api/v1/templates?{query}")
    assert response.status_code == 200, (query, response.get_data(True))
    return response.json


def test_a_search_pages_counts_and_facets_what_its_filters_keep(indexed, client):
    everything = ids(client, "q=prometheus")
    body = answer(client, "q=prometheus")
    assert body["total"] == 7
    assert body["facets"] == {"category": {"Dashboards": 1}, "kind": {"compose": 1, "helm": 6}}
    # A filter keeps the order; each facet counts under the other filters only.
    helm = answer(client, "q=prometheus&kind=helm")
    assert [t["id"].split("*")[-1] for t in helm["items"]] == everything[:-1]  # not grafana
    assert helm["total"] == 6
    assert helm["facets"] == {"category": {}, "kind": {"compose": 1, "helm": 6}}
    dashboards = answer(client, "q=prometheus&category=Dashboards")
    assert [t["id"] for t in dashboards["items"]] == ["grafana"]
    assert dashboards["total"] == 1
    assert dashboards["facets"] == {"category": {"Dashboards": 1}, "kind": {"compose": 1}}
    second = answer(client, "q=prometheus&per_page=3&page=2")
    assert [t["id"].split("*")[-1] for t in second["items"]] == everything[3:6]
    assert second["total"] == 7
    last = answer(client, "q=prometheus&per_page=3&page=3")
    assert [t["id"] for t in last["items"]] == ["grafana"]
    assert answer(client, "q=prometheus&per_page=3&page=4")["items"] == []
    elsewhere = answer(client, "q=prometheus&catalog=other")
    assert elsewhere["items"] == [] and elsewhere["total"] == 0
    assert elsewhere["facets"] == {"category": {}, "kind": {}}


def test_the_order_totals_and_facets_follow_a_sync(indexed, client, sync):
    repo = indexed
    assert ids(client, "q=prometheus")[:3] == [
        "prometheus",
        "prometheus-adapter",
        "kube-prometheus-stack",
    ]
    # karma's name now starts with the query; cost-analyzer is hidden; mysql gains a
    # category and the word.
    charts = repo.path / "charts"
    karma = charts / "karma" / "Chart.yaml"
    karma.write_text(
        karma.read_text() + "annotations:\n  catalog.cattle.io/display-name: Prometheus Karma\n"
    )
    cost = charts / "cost-analyzer" / "Chart.yaml"
    cost.write_text(cost.read_text() + 'annotations:\n  catalog.cattle.io/hidden: "true"\n')
    mysql = charts / "mysql" / "Chart.yaml"
    mysql.write_text(mysql.read_text().replace("relational database", "prometheus database"))
    (charts / "mysql" / "questions.yaml").write_text("categories: [Databases]\n")
    repo.commit("karma renamed, cost-analyzer hidden, mysql in Databases")
    assert sync(repo.source("lib")).templates_reloaded == 3
    found = ids(client, "q=prometheus")
    assert found[0] == "prometheus"
    assert set(found[1:3]) == {"prometheus-adapter", "karma"}
    assert "cost-analyzer" not in found and "mysql" in found
    body = answer(client, "q=prometheus")
    assert body["total"] == 7
    assert body["facets"] == {
        "category": {"Dashboards": 1, "Databases": 1},
        "kind": {"compose": 1, "helm": 6},
    }
    assert answer(client, "q=prometheus&include_hidden=true")["total"] == 8
    assert ids(client, "q=prometheus&category=Databases") == ["mysql"]


def test_a_catalog_removed_and_added_again_is_searched_afresh(
    indexed, app, client, sync, make_catalog_repo
):
    from catalog_server.models import Catalog

    assert ids(client, "q=prometheus")[0] == "prometheus"
    with app.app_context():
        db.session.delete(db.session.scalar(db.select(Catalog)))
        db.session.commit()

    # Another repository under the same name, of compose templates: they may get the ids
    # (and the catalog the id and generation) the removed charts had.
    def compose(name: str, title: str) -> dict[str, str]:
        return {
            f"templates/{name}/config.yml": f"name: {title}\nversion: 1.0.0\ncategory: Zoo\n",
            f"templates/{name}/0/docker-compose.yml": f"services:\n  {name}:\n    image: x\n",
        }

    other = make_catalog_repo(
        files={**compose("prometheus", "Zebra Prometheus"), **compose("zebra", "zebra")}
    )
    assert sync(other.source("lib")).templates_total == 2
    body = answer(client, "q=zebra")
    assert [(t["id"], t["name"]) for t in body["items"]] == [
        ("zebra", "zebra"),
        ("prometheus", "Zebra Prometheus"),
    ]
    assert body["facets"] == {"category": {"Zoo": 2}, "kind": {"compose": 2}}
    assert ids(client, "q=prometheus&kind=compose") == ["prometheus"]


def test_sort_by_name_and_by_update(indexed, client):
    assert ids(client, "q=prometheus&sort=name") == [
        "cost-analyzer",
        "elasticsearch-exporter",
        "grafana",
        "karma",
        "kube-prometheus-stack",
        "prometheus",
        "prometheus-adapter",
    ]
    everything = ids(client, "sort=name")
    assert everything == sorted(everything)
    assert ids(client, "sort=relevance") == everything  # no query: by name


def test_sort_by_update_puts_the_latest_change_first(indexed, client, sync):
    repo = indexed
    chart = repo.path / "charts" / "karma" / "Chart.yaml"
    chart.write_text(chart.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    with repo.repo.git.custom_environment(
        GIT_AUTHOR_DATE="2031-01-01T00:00:00Z", GIT_COMMITTER_DATE="2031-01-01T00:00:00Z"
    ):
        repo.commit("karma 1.1.0")
    assert sync(repo.source("lib")).templates_reloaded == 1
    assert ids(client, "sort=updated")[0] == "karma"
    assert ids(client, "q=prometheus&sort=updated")[0] == "karma"


def test_matches_are_highlighted(indexed, client):
    items = client.get("/api/v1/templates?q=prometheus").json["items"]
    first = items[0]
    assert first["highlights"][0] == {
        "field": "name",
        "fragment": "prometheus",
        "matches": [[0, 10]],
    }
    karma = next(t for t in items if t["id"] == "charts*karma")
    [description] = [h for h in karma["highlights"] if h["field"] == "description"]
    start, end = description["matches"][0]
    assert description["fragment"][start:end] == "Prometheus"
    grafana = next(t for t in items if t["id"] == "grafana")
    [readme] = [h for h in grafana["highlights"] if h["field"] == "readme"]
    start, end = readme["matches"][0]
    assert readme["fragment"][start:end] == "Prometheus"
    # Without a query there is nothing to highlight.
    assert "highlights" not in client.get("/api/v1/templates").json["items"][0]


def test_the_index_follows_incremental_syncs_and_deletions(indexed, client, sync):
    repo = indexed
    chart = repo.path / "charts" / "mysql" / "Chart.yaml"
    chart.write_text(chart.read_text().replace("relational database", "zebra database"))
    repo.remove("charts/karma")
    repo.commit("mysql says zebra; karma removed")
    summary = sync(repo.source("lib"))
    assert summary.templates_reloaded == 1 and summary.templates_removed == 1
    assert ids(client, "q=zebra") == ["mysql"]
    assert ids(client, "q=relational") == []
    assert "karma" not in ids(client, "q=prometheus")
    assert ids(client, "q=karma") == []
    body = client.get("/api/v1/templates?q=prometheus").json
    assert sum(body["facets"]["kind"].values()) == body["total"] == 6


def test_a_long_lived_session_sees_what_a_sync_committed(indexed, app, sync):
    # A session that outlives a sync (a shell, the sync process) searches afresh in each
    # transaction: what it read before is not served again.
    repo = indexed
    zebra = queries.TemplateFilter(q="zebra")
    with app.app_context():
        assert queries.search_templates(db.session, zebra, 1, 20).total == 0
        assert queries.template_facets(db.session, zebra)["kind"] == {}
        db.session.commit()
        chart = repo.path / "charts" / "mysql" / "Chart.yaml"
        chart.write_text(chart.read_text().replace("relational database", "zebra database"))
        repo.commit("mysql says zebra")
        assert sync(repo.source("lib")).templates_reloaded == 1
        found = queries.search_templates(db.session, zebra, 1, 20)
        assert [t.slug for t, _ in found.items] == ["charts*mysql"]
        assert queries.template_facets(db.session, zebra)["kind"] == {"helm": 1}


def test_a_removed_catalog_leaves_the_index(indexed, app, client):
    from catalog_server.models import Catalog

    with app.app_context():
        db.session.delete(db.session.scalar(db.select(Catalog)))
        db.session.commit()
        index = search.session_index(db.session)
        assert index.stored(db.session, list(range(1, 100))) == {}
    assert ids(client, "q=prometheus") == []


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "prometheus OR",
        "NEAR(prometheus karma)",
        "*",
        "(",
        "prometheus:*",
        "prom & !karma",
        "'; DROP TABLE templates; --",
        "{name}: x",
        "^prometheus",
        "-prometheus",
        "a" * 200,
        "\u00e9\u00e8 \u2603 \U0001f600",
    ],
)
def test_hostile_queries_are_answered(indexed, client, q):
    response = client.get("/api/v1/templates", query_string={"q": q})
    assert response.status_code == 200, response.get_data(True)
    assert response.json["total"] == len(response.json["items"])


@pytest.mark.parametrize("q", ["a" * 201, "x\x00y", "tab\there"])
def test_overlong_or_control_queries_are_400(indexed, client, q):
    response = client.get("/api/v1/templates", query_string={"q": q})
    assert response.status_code == 400
    assert response.json["error"]["code"]


def test_a_bad_sort_is_400(indexed, client):
    response = client.get("/api/v1/templates?sort=random")
    assert response.status_code == 400
    assert "sort" in response.json["error"]["message"]


def test_the_search_index_is_made_by_the_migrations(app):
    with app.app_context(), db.engine.connect() as conn:
        assert search.TABLE in inspect(conn).get_table_names()


def test_queries_are_reduced_to_words():
    assert search.parse_query('"Prometheus-Adapter" OR (x*)').terms == (
        "prometheus",
        "adapter",
        "or",
        "x",
    )
    assert search.parse_query("*** ::: \"'").terms == ()
    assert len(search.parse_query("w " * 500).terms) == search.MAX_TERMS
    assert search.name_key("Kube_Prometheus  Stack") == "kube prometheus stack"


def test_the_first_of_a_page_are_those_a_full_sort_gives():
    # A broad query's page is picked without sorting every match: the same as sorting
    # them all, ties in score, name and catalog included, for any page.
    import random

    from catalog_server.listing import ListedTemplate

    rng = random.Random(7)
    words = ["prom", "prometheus", "proxy", "store", "agent"]
    matches = []
    for i in range(600):
        name = f"{rng.choice(words)} {rng.choice(words)}"
        slug = f"{name.replace(' ', '-')}-{i % 7}"
        listed = ListedTemplate(
            rng.choice(["a", "b"]),
            "file",
            False,
            "helm",
            name,
            slug,
            (),
            name,
            search.name_key(slug),
        )
        matches.append((i, listed, rng.choice([0.5, 0.25, 0.125, rng.random()])))
    for q in ("prom", "prometheus", "store", "proxy agent", "x"):
        query = search.parse_query(q)

        def place(match, query=query):
            _, t, score = match
            return (search.tier(query, t.name_key, t.slug_key), -score, t.name, t.catalog, t.slug)

        ordered = sorted(matches, key=place)
        for count in (1, 20, 100, 599, 600, 1000):
            assert queries._first_by_relevance(query, matches, count) == ordered[:count]


def test_version_filter_answers_are_kept_bounded_and_shared():
    """Each filter asked is kept (KEPT_FITS of them at most), and filters that keep the
    same templates share one answer: a client asking for many versions costs little."""
    from catalog_server.listing import KEPT_FITS, RangeSet, VersionRanges

    helm = RangeSet("helm", ">=1.25.0-0", None, None, None, None)
    compose = RangeSet("compose", None, None, None, "v1.6.0", None)
    ranges = VersionRanges((), {helm: [1, 2, 3], compose: [4]})
    asked = []

    def only_helm(r):
        asked.append(r)
        return r.kind == "helm"

    answers = [ranges.fitting(f"1.{n}.0", only_helm) for n in range(3 * KEPT_FITS)]
    assert all(answer == {1, 2, 3} for answer in answers)
    assert len({id(answer) for answer in answers}) == 1
    assert len(asked) == 2 * 3 * KEPT_FITS  # each filter tested each set of ranges once
    again = ranges.fitting(f"1.{3 * KEPT_FITS - 1}.0", lambda r: pytest.fail("kept"))
    assert again is answers[-1]
    assert ranges.fitting("everything", lambda r: True) == {1, 2, 3, 4}
