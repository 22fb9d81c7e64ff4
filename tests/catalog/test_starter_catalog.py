"""The starter catalog in catalog/ is product: every file valid, vocabulary shared, policy sane."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from toolcatalog.formats.definitions import LoadResult, load_paths
from toolcatalog.model.pattern import Pattern
from toolcatalog.model.profile import Effect
from toolcatalog.model.tool import Tool
from toolcatalog.model.vocabulary import Vocabulary

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "catalog"

# The table: category -> "name (platform)" entries, plus the seed's five tools.
EXPECTED = {
    "automation": "crontab linux, schtasks windows, ansible cross-platform, salt cross-platform, "
    "puppet cross-platform, powershell windows",
    "backup": "restic cross-platform, borg linux, rclone cross-platform, velero kubernetes",
    "cloud": "aws_cli cloud, azure_cli cloud, gcloud cloud",
    "container": "docker container, docker_compose container, podman container, "
    "kubectl kubernetes, "
    "helm kubernetes, crictl kubernetes, kustomize kubernetes, skopeo container",
    "database": "psql cross-platform, pg_dump cross-platform, pg_isready cross-platform, "
    "mysql cross-platform, mysqldump cross-platform, redis_cli cross-platform, "
    "mongosh cross-platform, sqlcmd windows, cqlsh cross-platform, etcdctl cross-platform, "
    "clickhouse_client cross-platform",
    "debugging": "strace linux, perf linux, bpftrace linux",
    "deployment": "argocd kubernetes, terraform cross-platform, gitlab_api custom, "
    "jenkins_api custom, git cross-platform, pulumi cross-platform, packer cross-platform, "
    "flux kubernetes",
    "logs": "journalctl linux, dmesg linux, tail linux, logrotate linux, get_winevent windows, "
    "wevtutil windows, stern kubernetes",
    "messaging": "rabbitmqctl cross-platform, kafka_cli cross-platform, nats_cli cross-platform",
    "monitoring": "get_counter windows, alertmanager linux, grafana_api custom, loki linux, "
    "elasticsearch_api custom, datadog_api custom, nagios linux, zabbix_api custom, "
    "pagerduty_api custom, sentry_api custom, jaeger linux, splunk_api custom, "
    "uptime_kuma_api custom, prometheus linux",
    "network": "ping cross-platform, traceroute linux, mtr linux, dig linux, "
    "nslookup cross-platform, whois linux, curl cross-platform, wget linux, ss linux, "
    "netstat cross-platform, ip linux, tcpdump linux, iperf3 cross-platform, ethtool linux, "
    "netcat linux, ssh cross-platform, scp cross-platform, snmpwalk cross-platform, "
    "ipconfig windows, netsh windows, test_netconnection windows, dcdiag windows, "
    "repadmin windows, istioctl kubernetes, consul cross-platform, nethogs linux, iftop linux, "
    "nmcli linux, resolvectl linux, arping linux, ping_sweep cross-platform, "
    "speedtest cross-platform, github_api custom",
    "notification": "slack_api custom, opsgenie_api custom, teams_webhook custom, smtp_mail custom",
    "package": "apt linux, dnf linux, rpm linux, windows_update windows",
    "security": "useradd linux, usermod linux, chmod linux, chown linux, iptables linux, "
    "nftables linux, ufw linux, firewalld linux, nmap cross-platform, openssl cross-platform, "
    "gpupdate windows, gpresult windows, get_aduser windows, certutil windows, icacls windows, "
    "vault cross-platform, certbot linux, fail2ban linux, auditd linux, lynis linux, "
    "trivy cross-platform, clamav linux, ssh_keygen cross-platform, ldapsearch cross-platform, "
    "keytool cross-platform, last linux, getfacl linux",
    "service": "systemctl linux, get_service windows, restart_service windows, sc windows",
    "storage": "df linux, du linux, lsblk linux, findmnt linux, smartctl linux, mdadm linux, "
    "lvm linux, parted linux, fsck linux, rsync linux, tar linux, robocopy windows, "
    "diskpart windows, chkdsk windows, zfs linux, ceph linux, ncdu linux, blkid linux, "
    "hdparm linux, minio_client cross-platform, s3cmd cross-platform, azcopy cross-platform",
    "system": "ps linux, top linux, free linux, vmstat linux, iostat linux, sar linux, "
    "uptime linux, lsof linux, uname linux, hostnamectl linux, timedatectl linux, kill linux, "
    "sysctl linux, lscpu linux, find linux, sed linux, awk linux, get_process windows, "
    "get_ciminstance windows, tasklist windows, taskkill windows, sfc windows, dism windows, "
    "reg windows, ntpq linux, chronyc linux, iotop linux, dmidecode linux, ipmitool linux, "
    "sensors linux, nvidia_smi linux, grep linux, htop linux",
    "ticketing": "jira_api custom, servicenow_api custom",
    "virtualization": "virsh linux, govc cross-platform, proxmox_api custom",
    "web": "nginx linux, apachectl linux, haproxy linux, envoy_admin custom",
}


def _expected() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for category, listing in EXPECTED.items():
        for entry in listing.split(","):
            name, platform = entry.split()
            out[name] = (category, platform)
    return out


# The capability names the seed platform's Stage A emits.
STAGE_A_CAPABILITIES = [
    *("api_query", "asset_management", "asset_query", "credential_access", "disk_management"),
    *("disk_monitoring", "dns_query", "http_client", "infrastructure_info", "log_analysis"),
    *("memory_monitoring", "network_info", "network_monitoring", "network_testing"),
    *("packet_capture", "process_management", "process_monitoring", "protocol_analysis"),
    *("resource_listing", "secret_retrieval", "service_management", "system_info"),
    *("system_monitoring", "text_search", "windows_automation", "windows_service_management"),
]

# Verbs that mark a pattern as changing state; such a pattern must not be production-safe
# unless it also requires approval.
STATE_CHANGING = re.compile(
    r"\b(restart|reboot|kill|killall|delete|remove|purge|drop|truncate|apply|rollout|roll back|"
    r"rollback|deploy|format|partition|wipe|fsck|repair|install|uninstall|upgrade|downgrade|"
    r"destroy|terminate|shutdown|stop|disable|ban|unban|block|revoke|chmod|chown|modify|"
    r"prune|evict|drain|cordon|scale|promote|failover|reset|overwrite|mkfs|resize|shrink|"
    r"extend|flush|set)\b",
    re.IGNORECASE,
)
DRY_RUN = re.compile(r"\b(dry run|test|simulate|preview|noop|check)\b")


@pytest.fixture(scope="module")
def loaded() -> LoadResult:
    return load_paths([CATALOG])


@pytest.fixture(scope="module")
def tools(loaded: LoadResult) -> list[Tool]:
    return [lt.tool for lt in loaded.tools]


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.model_validate(yaml.safe_load((CATALOG / "capabilities.yaml").read_text()))


def test_every_catalog_file_validates(loaded: LoadResult) -> None:
    assert [str(p) for p in loaded.problems] == []


def test_the_catalog_holds_exactly_the_planned_tools(tools: list[Tool]) -> None:
    expected = _expected()
    found = {t.name for t in tools}
    assert sorted(found - set(expected)) == [], "tools not in the plan"
    assert sorted(set(expected) - found) == [], "planned tools missing"


def test_each_tool_has_its_planned_category_platform_and_folder(tools: list[Tool]) -> None:
    expected = _expected()
    wrong = []
    for tool in tools:
        category, platform = expected.get(tool.name, (tool.category, tool.platform.value))
        path = CATALOG / category / f"{tool.name}.yaml"
        if (tool.category, tool.platform.value) != (category, platform) or not path.is_file():
            wrong.append(f"{tool.name}: {tool.category}/{tool.platform.value} at {path}")
    assert wrong == []


def test_every_tool_has_capabilities_patterns_examples_tags_and_docs(tools: list[Tool]) -> None:
    thin = []
    for tool in tools:
        if len(tool.examples) < 5:
            thin.append(f"{tool.name}: {len(tool.examples)} examples")
        if not tool.tags or not tool.docs_url or tool.execution is None:
            thin.append(f"{tool.name}: needs tags, docs_url and execution")
        for cap in tool.capabilities:
            if not cap.patterns:
                thin.append(f"{tool.name}.{cap.name}: no pattern")
    assert thin == []


def test_no_two_tools_share_an_example(tools: list[Tool]) -> None:
    counts = Counter(e.strip().lower() for t in tools for e in t.examples)
    assert [e for e, n in counts.items() if n > 1] == []


def test_capability_names_come_from_the_shared_vocabulary(
    tools: list[Tool], vocabulary: Vocabulary
) -> None:
    canonical = set(vocabulary.names())
    strays = sorted(
        {f"{t.name}.{c.name}" for t in tools for c in t.capabilities}
        - {f"{t.name}.{c.name}" for t in tools for c in t.capabilities if c.name in canonical}
    )
    assert strays == []


def test_every_vocabulary_entry_is_used_by_some_tool(
    tools: list[Tool], vocabulary: Vocabulary
) -> None:
    used = {c.name for t in tools for c in t.capabilities}
    assert sorted(set(vocabulary.names()) - used) == []


@pytest.mark.parametrize(
    "stage_a_name",
    [
        "api_query",
        "asset_management",
        "asset_query",
        "credential_access",
        "disk_management",
        "disk_monitoring",
        "dns_query",
        "http_client",
        "infrastructure_info",
        "log_analysis",
        "memory_monitoring",
        "network_info",
        "network_monitoring",
        "network_testing",
        "packet_capture",
        "process_management",
        "process_monitoring",
        "protocol_analysis",
        "resource_listing",
        "secret_retrieval",
        "service_management",
        "system_info",
        "system_monitoring",
        "text_search",
        "windows_automation",
        "windows_service_management",
    ],
)
def test_stage_a_capability_names_resolve(vocabulary: Vocabulary, stage_a_name: str) -> None:
    assert vocabulary.resolve(stage_a_name) is not None


def test_every_pattern_declares_its_effect(loaded: LoadResult) -> None:
    assert [str(n) for n in loaded.notes] == []


def _patterns(tools: list[Tool]) -> Iterator[tuple[str, str, Pattern]]:
    """(where, capability name, pattern) for every pattern of the catalog."""
    for tool in tools:
        for cap in tool.capabilities:
            for pat in cap.patterns:
                yield f"{tool.name}.{cap.name}.{pat.name}", cap.name, pat


def _changing_capabilities(vocabulary: Vocabulary) -> set[str]:
    return {e.name for e in vocabulary.vocabulary if "(changes state)" in e.description}


def test_patterns_named_for_a_state_change_declare_a_change(
    tools: list[Tool], vocabulary: Vocabulary
) -> None:
    changing = _changing_capabilities(vocabulary)
    read_only = []
    for where, cap, pat in _patterns(tools):
        words = pat.name.replace("_", " ")
        named = cap in changing or STATE_CHANGING.search(words)
        if named and pat.effect is Effect.read and not DRY_RUN.search(words):
            read_only.append(where)
    assert read_only == []


def test_changes_are_not_production_safe_without_approval(
    tools: list[Tool], vocabulary: Vocabulary
) -> None:
    """Destructive patterns never; changes only outside state-changing capabilities (posting a
    chat message or opening a ticket changes no production system)."""
    changing = _changing_capabilities(vocabulary)
    unsafe = []
    for where, cap, pat in _patterns(tools):
        unattended = pat.policy.production_safe and not pat.policy.requires_approval
        risky = pat.effect is Effect.destructive or (
            pat.effect is Effect.change and cap in changing
        )
        if unattended and risky:
            unsafe.append(where)
    assert unsafe == []


def test_read_only_capabilities_have_a_production_safe_pattern(
    tools: list[Tool], vocabulary: Vocabulary
) -> None:
    changing = _changing_capabilities(vocabulary)
    missing = [
        f"{t.name}.{c.name}"
        for t in tools
        for c in t.capabilities
        if c.name not in changing
        and not any(p.policy.production_safe or p.policy.requires_approval for p in c.patterns)
    ]
    assert missing == []
