"""Write the Kibana saved objects of phiwatch (data views, Lens charts, one dashboard).

The NDJSON is generated, not hand-edited, so that ids and references stay consistent:

    python deploy/kibana/build.py            # rewrite phiwatch-dashboard.ndjson
    python deploy/kibana/build.py --check    # exit 1 if the file differs

Import it in Kibana 8.8 or later (Stack Management > Saved objects > Import, or
``POST /api/saved_objects/_import``; deploy/compose.yaml does it). Every chart is a Lens
object by reference, on one of the two data views: ``phiwatch-alerts-*`` (alerts, the
index template of alerting/elasticsearch/template.py) and ``phiwatch-incidents-*``
(incidents, alerting/elasticsearch/incidents.py). A test checks that each field a chart
uses is mapped, with the type its operation needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "phiwatch-dashboard.ndjson"
CORE = "8.8.0"
ALERTS = "phiwatch-alerts"
INCIDENTS = "phiwatch-incidents"
LAYER = "layer1"


def data_view(view_id: str, title: str, name: str) -> dict[str, Any]:
    return {"id": view_id, "type": "index-pattern", "coreMigrationVersion": CORE,
            "typeMigrationVersion": "8.0.0", "managed": False, "references": [],
            "attributes": {"title": title, "name": name, "timeFieldName": "@timestamp",
                           "allowNoIndex": True, "fieldAttrs": "{}", "fieldFormatMap": "{}",
                           "runtimeFieldMap": "{}", "sourceFilters": "[]"}}


def count(label: str) -> dict[str, Any]:
    return {"label": label, "dataType": "number", "operationType": "count",
            "isBucketed": False, "scale": "ratio", "sourceField": "___records___",
            "params": {"emptyAsNull": True}, "customLabel": True}


def terms(field: str, label: str, size: int, order_by: str = "count") -> dict[str, Any]:
    return {"label": label, "dataType": "string", "operationType": "terms",
            "sourceField": field, "isBucketed": True, "scale": "ordinal", "customLabel": True,
            "params": {"size": size, "orderBy": {"type": "column", "columnId": order_by},
                       "orderDirection": "desc", "otherBucket": True, "missingBucket": False,
                       "parentFormat": {"id": "terms"}}}


def histogram(field: str = "@timestamp") -> dict[str, Any]:
    return {"label": field, "dataType": "date", "operationType": "date_histogram",
            "sourceField": field, "isBucketed": True, "scale": "interval",
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}


def lens(lens_id: str, title: str, description: str, view: str, kind: str,
         columns: dict[str, dict[str, Any]], visualization: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": lens_id, "type": "lens", "coreMigrationVersion": CORE,
        "typeMigrationVersion": "8.6.0", "managed": False,
        "attributes": {
            "title": title, "description": description, "visualizationType": kind,
            "state": {
                "datasourceStates": {"formBased": {"layers": {LAYER: {
                    "columnOrder": list(columns), "columns": columns,
                    "incompleteColumns": {}}}}},
                "visualization": visualization,
                "query": {"query": "", "language": "kuery"}, "filters": [],
                "internalReferences": [], "adHocDataViews": {},
            },
        },
        "references": [{"type": "index-pattern", "id": view,
                        "name": f"indexpattern-datasource-layer-{LAYER}"}],
    }


def xy(series: str, x: str, y: str, split: str | None = None) -> dict[str, Any]:
    layer: dict[str, Any] = {"layerId": LAYER, "layerType": "data", "seriesType": series,
                             "xAccessor": x, "accessors": [y]}
    if split is not None:
        layer["splitAccessor"] = split
    return {"legend": {"isVisible": True, "position": "right"}, "valueLabels": "hide",
            "fittingFunction": "None", "preferredSeriesType": series, "layers": [layer]}


def objects() -> list[dict[str, Any]]:
    charts = [
        lens("phiwatch-alerts-over-time", "Cảnh báo theo thời gian / Alerts over time by rule",
             "Alerts per interval, stacked by rule", ALERTS, "lnsXY",
             {"rule": terms("rule.name", "Quy tắc / Rule", 10), "time": histogram(),
              "count": count("Cảnh báo / Alerts")},
             xy("bar_stacked", "time", "count", split="rule")),
        lens("phiwatch-top-staff", "Nhân viên nhiều cảnh báo nhất / Top staff",
             "The staff accounts (user.id) with the most alerts", ALERTS, "lnsXY",
             {"user": terms("user.id", "Nhân viên / Staff (user.id)", 15),
              "count": count("Cảnh báo / Alerts")},
             xy("bar_horizontal", "user", "count")),
        lens("phiwatch-incidents-by-status", "Sự cố theo trạng thái / Incidents by status",
             "Incidents by their current status", INCIDENTS, "lnsPie",
             {"status": terms("phiwatch.incident.status", "Trạng thái / Status", 10),
              "count": count("Sự cố / Incidents")},
             {"shape": "donut", "layers": [{
                 "layerId": LAYER, "layerType": "data", "primaryGroups": ["status"],
                 "metrics": ["count"], "numberDisplay": "value", "categoryDisplay": "default",
                 "legendDisplay": "default", "nestedLegend": False}]}),
        lens("phiwatch-alerts-by-hospital", "Cảnh báo theo bệnh viện / Alerts by hospital",
             "Alerts per hospital (organization.id)", ALERTS, "lnsXY",
             {"hospital": terms("organization.id", "Bệnh viện / Hospital", 30),
              "count": count("Cảnh báo / Alerts")},
             xy("bar_horizontal", "hospital", "count")),
    ]
    grid = [(0, 0, 48, 15), (0, 15, 24, 15), (24, 15, 24, 15), (0, 30, 48, 15)]
    panels, references = [], []
    for i, (chart, (x, y, w, h)) in enumerate(zip(charts, grid, strict=True), 1):
        index = f"p{i}"
        panels.append({"version": "8.8.0", "type": "lens", "panelIndex": index,
                       "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                       "embeddableConfig": {"enhancements": {}},
                       "panelRefName": f"panel_{index}"})
        references.append({"type": "lens", "id": chart["id"], "name": f"{index}:panel_{index}"})
    dashboard = {
        "id": "phiwatch-overview", "type": "dashboard", "coreMigrationVersion": CORE,
        "typeMigrationVersion": "8.7.0", "managed": False, "references": references,
        "attributes": {
            "title": "phiwatch — Tổng quan / Overview",
            "description": "Cảnh báo lộ lọt dữ liệu người bệnh / Patient-data leak alerts",
            "panelsJSON": json.dumps(panels, separators=(",", ":")),
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": False,
                                       "syncCursor": True, "syncTooltips": False,
                                       "hidePanelTitles": False}, separators=(",", ":")),
            "timeRestore": True, "timeFrom": "now-7d", "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 60000},
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
                {"query": {"query": "", "language": "kuery"}, "filter": []},
                separators=(",", ":"))},
        },
    }
    return [data_view(ALERTS, "phiwatch-alerts-*", "phiwatch alerts"),
            data_view(INCIDENTS, "phiwatch-incidents-*", "phiwatch incidents"),
            *charts, dashboard]


def render() -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                   + "\n" for o in objects())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT.name} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
