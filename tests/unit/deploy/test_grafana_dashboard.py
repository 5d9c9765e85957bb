"""deploy/grafana/concierge-dashboard.json loads into Grafana's dashboard model, and
every series it queries is one the services expose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog import runtime
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import prometheus
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, RowPanel

from tests.unit.deploy.metric_names import every_exposed_name, exposed_by_service, names_read_by

REPO = Path(__file__).resolve().parents[3]
DASHBOARD = REPO / "deploy" / "grafana" / "concierge-dashboard.json"


def _raw() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in _raw()["panels"] if panel["type"] != "row"]


def test_loads_into_grafanas_model_with_prometheus_queries_and_known_panel_types() -> None:
    register_default_plugins()
    model = Dashboard.from_json(_raw())
    assert model.uid == "concierge-overview"
    assert model.schema_version >= 36
    assert model.templating.list_val is not None
    (variable,) = model.templating.list_val
    assert (variable.name, variable.type_val, variable.query) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    panels = [panel for panel in model.panels or [] if not isinstance(panel, RowPanel)]
    assert len(panels) == len(_panels()) > 10
    for panel in panels:
        assert isinstance(panel, Panel)
        # A panel type Grafana ships, whose options and field config decoded as that type.
        assert runtime.panelcfg_config(str(panel.type_val)) is not None, panel.type_val
        assert panel.datasource is not None
        assert (panel.datasource.type_val, panel.datasource.uid) == ("prometheus", "${datasource}")
        assert panel.targets
        for target in panel.targets:
            assert isinstance(target, prometheus.Dataquery), panel.title
            assert target.expr


def test_layout_ids_and_ref_ids_are_consistent() -> None:
    raw = _raw()
    ids = [panel["id"] for panel in raw["panels"]]
    assert len(ids) == len(set(ids))
    for panel in raw["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    for panel in _panels():
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_every_queried_series_is_exposed_by_a_service() -> None:
    exposed = every_exposed_name()
    for panel in _panels():
        for target in panel["targets"]:
            read = names_read_by(target["expr"])
            assert read, target["expr"]
            assert read <= exposed, (panel["title"], read - exposed)


def test_the_dashboard_covers_each_services_own_series() -> None:
    read = {
        name
        for panel in _panels()
        for target in panel["targets"]
        for name in names_read_by(target["expr"])
    }
    for service, exposed in exposed_by_service().items():
        own = {name for name in exposed if name.startswith(f"concierge_{service}_")}
        assert own & read, service
    assert {"concierge_consumer_lag", "concierge_build_info", "process_cpu_seconds_total"} <= read
