"""The timeline of the Prometheus end-to-end test, step by step (see test_prometheus_e2e.py):
it starts Prometheus and `toolcatalog serve`, drives traffic, provokes the faults and records
what Prometheus reported at each step."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from monitoring_files import ROOT, RULES, ExportedMetric, parse_exposition
from prometheus_install import PrometheusTools
from prometheus_stack import (
    PATIENCE_S,
    TOOLCATALOG,
    Process,
    PrometheusAPI,
    SocketProxy,
    free_port,
    prometheus_argv,
    serve_env,
    start,
    wait_for,
    write_prometheus_config,
)

SELECT_ROUTE = "/api/v1/select"
PROVOKED_IN_OUTAGE = {
    "ToolcatalogAllReplicasDegraded",
    "ToolcatalogDatabaseErrors",
    "ToolcatalogListenerDisconnected",
}


@dataclass
class Timeline:
    instance: str
    selection_served: bool
    checked_at: float = 0.0  # unix time the data checks evaluate at
    exported: dict[str, ExportedMetric] = field(default_factory=dict)
    firing: dict[str, set[str]] = field(default_factory=dict)  # phase -> firing at its end
    fired_in_s: dict[str, float] = field(default_factory=dict)  # provocation -> firing
    reload_status: dict[str, int] = field(default_factory=dict)
    health_in_outage: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    down_labels: list[dict[str, str]] = field(default_factory=list)
    select_statuses: list[int] = field(default_factory=list)


async def _hold_change_log_lock(
    url: str, locked: threading.Event, release: threading.Event
) -> None:
    """Hold a lock every catalog change waits for: a reload records its change in the change
    log (migration 0010), and SHARE mode lets readers of the log through but no insert."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE tool_catalog.catalog_changes IN SHARE MODE")
            locked.set()
            await asyncio.to_thread(release.wait, PATIENCE_S)
    finally:
        await conn.close()


class Run:
    """The processes of one timeline and the steps that drive them."""

    def __init__(self, tools: PrometheusTools, url: str, key: str, folder: Path) -> None:
        self.tools, self.url, self.folder = tools, url, folder
        self.admin = {"X-API-Key": key}
        self.proxy = SocketProxy(url)
        self.processes: list[Process] = []
        self.select_statuses: list[int] = []
        self.port = free_port()
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        self.prometheus_port = free_port()
        self.prometheus = PrometheusAPI(f"http://127.0.0.1:{self.prometheus_port}")

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.proxy.close()
        self.client.close()
        self.prometheus.close()

    def diagnosis(self) -> str:
        """What Prometheus holds, for a failure message."""
        lines = []
        for expr in (
            "up",
            "toolcatalog_http_requests_total",
            "job:toolcatalog_http_requests:rate5m",
            "ALERTS",
        ):
            try:
                for sample in self.prometheus.query(expr):
                    lines.append(f"{expr}: {sample['metric']} = {sample['value'][1]}")
            except (httpx.HTTPError, AssertionError) as exc:
                lines.append(f"{expr}: {exc}")
        return "--- Prometheus ---\n" + "\n".join(lines)

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes)

    def start_serve(self) -> Process:
        self.proxy.start()
        env = serve_env(
            self.proxy.url,
            self.folder / "home",
            self.port,
            TOOLCATALOG_CATALOG_DIR=str(ROOT / "catalog"),
            TOOLCATALOG_DB_COMMAND_TIMEOUT_S="2",
            TOOLCATALOG_DB_CONNECT_TIMEOUT_S="1",
            TOOLCATALOG_STARTUP_RETRY_S="10",
        )
        serve = start(
            "toolcatalog serve", [TOOLCATALOG, "serve"], self.folder / "serve.log", env, self.folder
        )
        self.processes.append(serve)
        wait_for(lambda: serve.running() and self.health().get("status") == "healthy", "serve")
        return serve

    def start_prometheus(self) -> None:
        config = write_prometheus_config(self.folder, RULES, f"127.0.0.1:{self.port}", for_s=2)
        argv = prometheus_argv(
            self.tools.prometheus, config, self.folder / "tsdb", self.prometheus_port
        )
        prometheus = start("prometheus", argv, self.folder / "prometheus.log", {}, self.folder)
        self.processes.append(prometheus)
        wait_for(lambda: prometheus.running() and self.prometheus.ready(), "Prometheus ready")

    def health(self) -> dict[str, Any]:
        try:
            body: dict[str, Any] = self.client.get("/api/v1/tools/health").json()
            return body
        except (httpx.HTTPError, ValueError):
            return {}

    def wait_firing(self, alerts: set[str], what: str) -> float:
        start_at = time.monotonic()
        wait_for(lambda: alerts <= self.prometheus.firing(), f"{sorted(alerts)} firing ({what})")
        return time.monotonic() - start_at

    def read_some_tools(self, names: list[str], rounds: int = 2) -> None:
        for _ in range(rounds):
            for name in names:
                self.client.get(f"/api/v1/tools/{name}")

    def traffic(self, names: list[str], selection: bool) -> None:
        self.client.get("/api/v1/tools")
        self.read_some_tools(names)
        self.client.get("/api/v1/tools/no_such_tool")  # 404
        self.client.get("/api/v1/tools/metrics")
        if selection:
            for text in ("why is / full on db2", "restart nginx on web1", "tell me a joke"):
                response = self.client.post(SELECT_ROUTE, json={"request": text})
                self.select_statuses.append(response.status_code)

    def cli_reload(self) -> None:
        """A reload from another process: its notice reaches the service's listener."""
        env = serve_env(self.url, self.folder / "home", self.port)
        subprocess.run(
            [TOOLCATALOG, "reload"], env=env, capture_output=True, timeout=60, check=True
        )

    def reload_on_a_locked_change_log(self) -> int:
        locked, release = threading.Event(), threading.Event()
        holder = threading.Thread(
            target=asyncio.run,
            args=(_hold_change_log_lock(self.url, locked, release),),
            daemon=True,
        )
        holder.start()
        try:
            assert locked.wait(10), "could not lock the change log"
            return self.client.post("/api/v1/tools/reload", headers=self.admin).status_code
        finally:
            release.set()
            holder.join(10)

    def outage_traffic(self, names: list[str]) -> bool:
        self.health()
        self.client.get("/api/v1/tools")
        self.client.get(f"/api/v1/tools/{names[-1]}_missing")  # never cached
        return self.prometheus.firing() >= PROVOKED_IN_OUTAGE

    def scraped_after(self, moment: float) -> bool:
        # A recording rule evaluated after `moment` + 1 s saw a scrape taken after `moment`.
        result = self.prometheus.query("timestamp(job:toolcatalog_http_requests:rate5m)")
        return bool(result) and float(result[0]["value"][1]) > moment + 1.5


def run_timeline(run: Run, timeline: Timeline) -> None:
    api = run.prometheus
    t = time.monotonic()
    run.start_prometheus()  # first: it takes ~5 s to start scraping, serve ~2 s to start
    serve = run.start_serve()
    timeline.seconds["serve start"] = time.monotonic() - t
    paths = run.client.get("/openapi.json").json().get("paths", {})
    timeline.selection_served = SELECT_ROUTE in paths
    wait_for(lambda: api.target_health() == "up", "the first scrape")
    timeline.seconds["first scrape"] = time.monotonic() - t

    timeline.fired_in_s["ToolcatalogNoTraffic"] = run.wait_firing({"ToolcatalogNoTraffic"}, "idle")
    timeline.firing["idle"] = api.firing()

    names = [item["name"] for item in run.client.get("/api/v1/tools").json()["items"][:4]]
    assert names, "the starter catalog was not imported"
    timeline.reload_status["healthy"] = run.client.post(
        "/api/v1/tools/reload", headers=run.admin
    ).status_code
    run.cli_reload()
    run.traffic(names, timeline.selection_served)
    wait_for(lambda: api.query("toolcatalog_notify_messages_total"), "the CLI's notice scraped")
    wait_for(
        lambda: api.query('toolcatalog_http_requests_total{route="/api/v1/tools/metrics"}'),
        "the traffic scraped",
    )
    # rate() sees no increase in the first sample of a series: traffic again once scraped.
    run.traffic(names, timeline.selection_served)
    wait_for(lambda: "ToolcatalogNoTraffic" not in api.firing(), "NoTraffic to resolve")
    timeline.firing["healthy"] = api.firing()

    t = time.monotonic()
    timeline.reload_status["locked"] = run.reload_on_a_locked_change_log()
    run.wait_firing({"ToolcatalogReloadFailures"}, "reload refused on a locked change log")
    timeline.fired_in_s["ToolcatalogReloadFailures"] = time.monotonic() - t
    run.read_some_tools(names)  # the database answers again and the cache fills

    t = time.monotonic()
    run.proxy.cut()
    wait_for(lambda: run.outage_traffic(names), f"{sorted(PROVOKED_IN_OUTAGE)} firing")
    for alert in PROVOKED_IN_OUTAGE:
        timeline.fired_in_s[alert] = time.monotonic() - t
    timeline.health_in_outage = run.health()
    timeline.firing["outage"] = api.firing()

    run.proxy.restore()
    wait_for(lambda: run.health().get("status") == "healthy", "the database to be back")
    wait_for(lambda: api.query("min(toolcatalog_listener_connected) == 1"), "listener back")
    run.traffic(names, timeline.selection_served)
    traffic_done = time.time()
    wait_for(lambda: run.scraped_after(traffic_done), "the last traffic scraped and evaluated")
    timeline.checked_at = time.time()
    timeline.select_statuses = run.select_statuses
    timeline.exported = parse_exposition(run.client.get("/metrics").text)
    timeline.firing["recovered"] = api.firing()

    serve.stop()
    timeline.fired_in_s["ToolcatalogDown"] = run.wait_firing({"ToolcatalogDown"}, "stopped")
    timeline.firing["stopped"] = api.firing()
    timeline.down_labels = api.alert_labels("ToolcatalogDown")
