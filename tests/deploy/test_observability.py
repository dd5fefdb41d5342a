"""What deploys telemetry (infra/, host.json, docs/observability.md), checked statically: Azure is out of reach
from here, and Kusto does not run here."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "observability.md").read_text()
WORKBOOK = json.loads((REPO / "infra" / "workbook.json").read_text())


def _doc_queries() -> dict[str, str]:
    return dict(re.findall(r"### (.+?)\n\n```kusto\n(.*?)```", DOC, re.S))


def test_the_workbook_runs_exactly_the_documents_queries_the_operation_id_a_parameter():
    shown = {item["content"]["title"]: item["content"]["query"] for item in WORKBOOK["items"] if item["type"] == 3}
    documented = _doc_queries()
    assert len(documented) == 5 and set(shown) == set(documented)
    for title, query in documented.items():
        assert shown[title] == query.replace('"<operation id>"', '"{OperationId}"'), title
    [parameters] = [item for item in WORKBOOK["items"] if item["type"] == 9]
    assert [p["name"] for p in parameters["content"]["parameters"]] == ["OperationId"]


def test_the_queries_name_only_attributes_and_spans_the_app_writes():
    spans = (REPO / "shared" / "telemetry" / "spans.py").read_text() + (REPO / "shared" / "telemetry" /
                                                                          "metrics.py").read_text()
    for query in _doc_queries().values():
        for attribute in re.findall(r'customDimensions\["bgops\.([\w.]+)"\]', query):
            assert f'"{attribute}' in spans, attribute  # set as bgops.<attribute> (spans.PREFIX)
        for metric in re.findall(r'name == "([\w.]+)"', query):
            assert f'"{metric}"' in spans, metric


def test_azd_deploys_the_workbook_on_application_insights_and_the_host_exports_opentelemetry():
    monitoring = (REPO / "infra" / "modules" / "monitoring.bicep").read_text()
    assert "Microsoft.Insights/workbooks@" in monitoring and "loadJsonContent('../workbook.json')" in monitoring
    assert "sourceId: applicationInsights.id" in monitoring
    host = json.loads((REPO / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry" and "applicationInsights" not in host["logging"]
    app = (REPO / "infra" / "modules" / "functionapp.bicep").read_text()
    assert re.search(r"PYTHON_ENABLE_OPENTELEMETRY: 'true'", app)
    assert re.search(r"OTEL_TRACES_SAMPLER: 'parentbased_always_on'", app)
