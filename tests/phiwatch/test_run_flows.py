"""`phiwatch run` with live network inputs: NetFlow over real UDP and capture on loopback,
through the network model and the shipped rules into the store."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from scapy.compat import raw
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.netflow import NetflowHeader, NetflowHeaderV5, NetflowRecordV5

from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertQuery
from phiwatch.config import ConfigError, load_config
from phiwatch.runner import Runner
from sensors.errors import ConfigKeyError
from sensors.flows.live import bpf_unavailable, loopback_available


def config(tmp_path: Path, flows: list[dict[str, Any]]) -> Any:
    return load_config(None, {"state_dir": str(tmp_path / "state"), "flows": flows,
                              "pipeline": {"snapshot_interval_seconds": 0.5}})


def run_until(runner: Runner, done: Any, timeout: float = 20) -> None:
    stop = threading.Event()
    t = threading.Thread(target=runner.run, args=(stop,))
    t.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            time.sleep(0.1)
    finally:
        stop.set()
        runner.notifier.wake()
        t.join(30)
    assert not t.is_alive()


def rules_fired(store: SQLiteAlertStore) -> set[str]:
    return {a.rule_id for a in store.query(AlertQuery(limit=1000))}


def test_capture_timeouts_must_fit_in_the_lateness(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"flows\.0\.capture: active_timeout_seconds \(300\)"):
        config(tmp_path, [{"name": "span", "capture": {"interface": "eth1",
                                                       "active_timeout_seconds": 300}}])
    with pytest.raises(ConfigError, match="exactly one of 'capture'"):
        config(tmp_path, [{"name": "x"}])
    ok = load_config(None, {"rules": {"lateness_seconds": 600}, "flows": [
        {"name": "span", "capture": {"interface": "eth1", "active_timeout_seconds": 300}}]})
    assert ok.flows[0].capture is not None


def test_netflow_upload_raises_the_large_upload_rule(tmp_path: Path) -> None:
    cfg = config(tmp_path, [{"name": "core", "netflow": {"host": "127.0.0.1", "port": 0}}])
    store = SQLiteAlertStore(cfg.sqlite_path)
    runner = Runner(cfg, store)
    assert runner.inputs.flows is not None
    address = runner.inputs.flows.addresses()["core"]
    now = int(time.time())
    datagram = raw(NetflowHeader(version=5) / NetflowHeaderV5(unixSecs=now, sysUptime=90_000)
                   / NetflowRecordV5(src="10.20.21.13", dst="103.97.125.8", srcport=50000,
                                     dstport=443, prot=6, dOctets=70_000_000, dpkts=50_000,
                                     first=60_000, last=89_000, tcpFlags=0x1B))

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(datagram, address)  # queued in the bound socket until the input reads it

    def sent_and_alerted() -> bool:
        return "phiwatch-net-large-upload" in rules_fired(store)

    run_until(runner, sent_and_alerted)
    assert "phiwatch-net-large-upload" in rules_fired(store)
    (alert,) = [a for a in store.query(AlertQuery(limit=10))
                if a.rule_id == "phiwatch-net-large-upload"][:1]
    assert alert.explanation.startswith("10.20.21.13 sent 70000000 bytes")


@pytest.mark.skipif(bool(loopback_available()), reason=str(loopback_available()))
@pytest.mark.skipif(bool(bpf_unavailable()), reason=str(bpf_unavailable()))
def test_capture_on_loopback_raises_dns_tunnelling(tmp_path: Path) -> None:
    # The capture sees the queries whether or not anything on 127.0.0.1 answers them.
    port = 53  # DNS events are made from port-53 traffic
    cfg = config(tmp_path, [{"name": "lo", "capture": {
        "interface": "lo", "bpf": f"udp port {port}", "active_timeout_seconds": 10,
        "idle_timeout_seconds": 5}}])
    store = SQLiteAlertStore(cfg.sqlite_path)
    runner = Runner(cfg, store)
    sent = {"n": 0}

    def queried_and_alerted() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(5):
                n = sent["n"] = sent["n"] + 1
                q = DNS(id=n, rd=1, qd=DNSQR(qname=f"a{n:04d}x.t.exfil-example.com",
                                            qtype="NULL"))
                s.sendto(raw(q), ("127.0.0.1", port))
        return "phiwatch-net-dns-tunnel-record-types" in rules_fired(store)

    run_until(runner, queried_and_alerted)
    assert "phiwatch-net-dns-tunnel-record-types" in rules_fired(store)
    assert runner.inputs.flows is None or runner.inputs.flows.stats()["lo"] > 0


def test_a_filter_without_libpcap_is_one_clear_error(tmp_path: Path, monkeypatch: Any) -> None:
    """Mocked: libpcap cannot be removed from this machine for one test, so scapy's
    filter compiler is made to fail as it does without libpcap."""
    import scapy.arch.linux as linux
    from scapy.error import Scapy_Exception

    def no_libpcap(*args: Any, **kwargs: Any) -> None:
        raise Scapy_Exception("libpcap is not available. Cannot compile filter !")

    monkeypatch.setattr(linux, "attach_filter", no_libpcap)
    cfg = config(tmp_path, [{"name": "span", "capture": {
        "interface": "lo", "bpf": "udp port 53", "active_timeout_seconds": 10,
        "idle_timeout_seconds": 5}}])
    with pytest.raises(ConfigKeyError) as e:
        Runner(cfg, SQLiteAlertStore(cfg.sqlite_path))
    assert str(e.value).startswith("flows.span.capture.bpf: cannot compile the filter "
                                   "'udp port 53'")
    assert "apt-get install libpcap0.8" in str(e.value)
