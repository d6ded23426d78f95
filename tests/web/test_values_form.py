"""Charts without questions in a real browser: a form that follows values.schema.json, the
values.yaml editor of a chart with neither questions nor schema, errors per field and per
line, and the values documented on the chart's page. Screenshots go to test-output/web/."""

from __future__ import annotations

import pytest
import yaml

from catalog_server import helmsdk

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
needs_helm = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)
RELAY = "/catalogs/vals/charts%2Arelay/"
BACKUP = "/catalogs/vals/stable%2Abackup/"


def open_page(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, url
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#install-form")


def unlabelled_controls(page) -> list[str]:
    return page.eval_on_selector_all(
        "#install-form input, #install-form select, #install-form textarea",
        "els => els.filter(e => !(e.labels && e.labels.length)).map(e => e.outerHTML)",
    )


def rendered_file(page, path: str) -> str:
    block = page.locator(f'.manifest-file[data-path="{path}"] pre')
    block.wait_for()
    return block.text_content()


@needs_helm
def test_schema_fields_follow_the_schema(values_server, page, output_dir):
    open_page(page, values_server.url + RELAY)
    legends = page.eval_on_selector_all(
        "#install-form legend", "els => els.map(e => e.textContent)"
    )
    assert legends == ["General", "Image", "Service", "TLS"]
    assert "values.schema.json" in page.text_content(".questions-source")
    replicas = page.get_by_label("Replicas")
    assert (replicas.get_attribute("type"), replicas.get_attribute("min")) == ("number", "1")
    assert replicas.get_attribute("max") == "10" and replicas.input_value() == "1"
    assert page.get_by_label("pullPolicy").evaluate("e => e.tagName") == "SELECT"
    log_level = page.get_by_label("Log level")  # an enum of integers is a select too
    assert log_level.evaluate("e => [...e.options].map(o => o.value)") == ["", "0", "1", "2", "3"]
    assert page.get_by_label("Debug mode").get_attribute("type") == "checkbox"
    assert page.get_by_label("Admin password").get_attribute("type") == "password"
    assert page.get_by_label("Welcome text").evaluate("e => e.tagName") == "TEXTAREA"
    assert "Must match ^[0-9]" in page.text_content('[data-variable="image.tag"] .field-help')
    assert page.get_by_label("Service port").get_attribute("max") == "65535"
    assert unlabelled_controls(page) == []

    # Bad answers: the question's bounds and the schema's pattern, each at its field.
    replicas.fill("11")
    tag = page.locator('[data-variable="image.tag"] input')
    assert tag.get_attribute("aria-required") == "true"  # required in the schema
    tag.fill("latest")
    page.click("#render-button")
    replicas_error = page.locator('[data-variable="replicaCount"] .field-error')
    replicas_error.wait_for(state="visible")
    assert replicas_error.text_content() == "must be at most 10"
    assert replicas.get_attribute("aria-invalid") == "true"
    tag_error = page.locator('[data-variable="image.tag"] .field-error').text_content()
    assert "does not match" in tag_error
    page.screenshot(path=str(output_dir / "values-schema-errors.png"), full_page=True)

    # Fixed, with a value no question asks for, in the optional values box.
    replicas.fill("3")
    tag.fill("3.3")
    page.select_option("#install-form select[name=logLevel]", "3")
    page.click("details.values-group summary")
    page.get_by_label("Values (YAML)").fill("podAnnotations:\n  team: 1\n")
    page.click("#render-button")
    line_error = page.locator("#install-values-error li")
    line_error.first.wait_for()
    assert line_error.all_text_contents() == [
        "Line 2 (podAnnotations.team): 1 is not of type 'string'"
    ]
    assert page.get_by_label("Values (YAML)").get_attribute("aria-invalid") == "true"
    selected = page.evaluate(
        "() => { const t = document.getElementById('install-values');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); }"
    )
    assert selected == "  team: 1"  # the cursor is on the line at fault

    page.get_by_label("Values (YAML)").fill("podAnnotations:\n  team: web\n")
    page.click("#render-button")
    values = yaml.safe_load(rendered_file(page, "values.yaml"))
    assert values == {
        "replicaCount": 3, "image": {"tag": "3.3"}, "logLevel": 3,
        "podAnnotations": {"team": "web"},
    }  # fmt: skip
    deployment = rendered_file(page, "manifests/relay/templates/deployment.yaml")
    assert "example/relay:3.3" in deployment and "team: web" in deployment
    assert "raw values were applied" in page.text_content(".manifest-warnings")
    assert page.locator("#install-values-error li").count() == 0
    page.screenshot(path=str(output_dir / "values-schema.png"), full_page=True)
    assert page.console_errors == []


@needs_helm
def test_a_chart_without_questions_installs_from_its_edited_values(values_server, page, output_dir):
    open_page(page, values_server.url + BACKUP)
    editor = page.get_by_label("values.yaml")
    page.wait_for_function("document.getElementById('install-values').value.length > 0")
    text = editor.input_value()
    assert text.startswith("# Default values for backup.")
    assert "## Default s3 bucket for storing all backup files" in text  # comments kept
    assert page.locator("#install-form legend").all_text_contents() == ["Values"]
    assert unlabelled_controls(page) == []

    # Broken YAML: the error names its line, and the cursor goes there.
    broken = text.replace("  size: 2Gi", "\tsize: 2Gi")  # a tab: YAML allows none
    editor.fill(broken)
    page.click("#render-button")
    line_error = page.locator("#install-values-error li")
    line_error.first.wait_for()
    bad_line = broken.splitlines().index("\tsize: 2Gi") + 1
    assert line_error.first.text_content().startswith(f"Line {bad_line}")
    assert editor.get_attribute("aria-invalid") == "true"
    assert "values document" in page.text_content("#form-status")
    page.screenshot(path=str(output_dir / "values-editor-error.png"), full_page=True)

    edited = text.replace('bucketName: ""', "bucketName: nightly").replace(
        "s3:\n  enabled: false", "s3:\n  enabled: true"
    )
    editor.fill(edited)
    page.click("#render-button")
    values = yaml.safe_load(rendered_file(page, "values.yaml"))
    assert values == {"s3": {"enabled": True, "bucketName": "nightly"}}
    deployment = rendered_file(page, "manifests/backup/templates/deployment.yaml")
    assert "--s3-bucket=nightly" in deployment
    assert page.locator("#install-values-error li").count() == 0
    page.screenshot(path=str(output_dir / "values-editor.png"), full_page=True)
    assert page.console_errors == []


def test_the_values_are_documented_on_the_chart_page(values_server, page):
    response = page.goto(values_server.url + BACKUP)
    assert response is not None and response.ok
    assert "Values" in page.locator(".page-sections").text_content()
    rows = page.eval_on_selector_all(
        "table.values-keys tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))",
    )
    by_key = {row[0]: row[1:] for row in rows}
    assert by_key["schedule.cron"] == [
        "string",
        '"0 3 * * *"',
        "Cron expression of the backup schedule",
    ]
    assert by_key["image.pullPolicy"][2] == "Always for mutable tags"
    assert by_key["s3"] == ["object", "", "Default s3 bucket for storing all backup files"]
    assert by_key['podAnnotations."prometheus.io/scrape"'][1] == '"true"'
    assert by_key["nodeSelector"][2].endswith("never as markup: <img src=x onerror=alert(1)>")
    assert page.locator("#values img").count() == 0
    page.click("details.values-file summary")
    assert "# existingRole: my-role" in page.text_content(".values-yaml")
    assert "This template asks no questions." in page.text_content("#questions")
    # A chart with a schema says where its questions come from.
    page.goto(values_server.url + RELAY)
    assert "derived from its values.schema.json" in page.text_content("#questions")
    assert page.locator("table.questions").count() == 4  # General, Image, Service, TLS
    # A chart with no values.yaml says so, and its form starts empty.
    open_page(page, values_server.url + "/catalogs/vals/charts%2Acrds/")
    assert "has no values.yaml" in page.text_content("#values")
    page.wait_for_function("!document.getElementById('install-values').disabled")
    assert page.get_by_label("values.yaml").input_value() == ""
    assert "no values.yaml" in page.text_content("#install-values-help")
    assert page.console_errors == []
