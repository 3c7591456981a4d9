"""Report numbers on Elasticsearch (osmem-server over real HTTP): per hospital and year,
idempotent per key, and under contention from many writers, consecutive with no gap."""

from __future__ import annotations

import threading

import pytest

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.connection import build_client
from alerting.reports.errors import NumberingError
from alerting.reports.es_numbering import ElasticsearchReportNumbers
from alerting.reports.numbering import ReportNumbers, number_key


def numbers(url: str) -> ElasticsearchReportNumbers:
    """A writer of its own (its own client and connections, as another process would)."""
    config = ElasticsearchConfig(hosts=[url], compat="opensearch", request_timeout=30)
    return ElasticsearchReportNumbers(build_client(config), "phiwatch-report-numbers")


def test_sequence_is_per_hospital_and_year_and_idempotent(es_url: str) -> None:
    n = numbers(es_url)
    assert isinstance(n, ReportNumbers)
    assert n.next("bv-mau", 2026, number_key("inc1", "BC")) == 1
    assert n.next("bv-mau", 2026, number_key("inc2", "BC")) == 2
    assert n.next("bv-mau", 2026, number_key("inc1", "BC")) == 1   # a retry keeps its number
    assert n.next("bv-mau", 2026, number_key("inc1", "TB")) == 3
    assert n.next("bv-khac", 2026, number_key("inc9", "BC")) == 1
    assert n.next("bv-mau", 2027, number_key("inc1", "BC")) == 1
    again = numbers(es_url)                                         # a restart
    assert again.next("bv-mau", 2026, number_key("inc3", "BC")) == 4
    assert [k for _, k in again.assigned("bv-mau", 2026)] == \
        ["inc1/BC", "inc2/BC", "inc1/TB", "inc3/BC"]
    with pytest.raises(NumberingError):
        n.next("", 2026, "x")
    with pytest.raises(NumberingError):
        n.next("bv-mau", 12, "x")


def test_concurrent_writers_get_distinct_consecutive_numbers(es_url: str) -> None:
    """Eight writers (each its own client) confirm 40 incidents at once, each asking
    twice for every document, as a retried finalize would."""
    writers = [numbers(es_url) for _ in range(8)]
    got: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(writers))

    def work(t: int) -> None:
        start.wait()
        for i in range(10):
            key = number_key(f"inc{t}-{i % 5}", "BC")
            num = writers[t].next("bv-mau", 2026, key)
            with lock:
                got.append((key, num))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(len(writers))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    by_key: dict[str, set[int]] = {}
    for k, v in got:
        by_key.setdefault(k, set()).add(v)
    assert all(len(v) == 1 for v in by_key.values()), by_key
    assert sorted(v.pop() for v in by_key.values()) == list(range(1, 8 * 5 + 1))
    assert [n for n, _ in writers[0].assigned("bv-mau", 2026)] == list(range(1, 41))
