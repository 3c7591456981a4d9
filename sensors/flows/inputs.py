"""Live network inputs for ``phiwatch run``: capture on an interface, or a NetFlow/IPFIX
collector, each on its own thread, their events handed to the run loop through a queue.

Why threads and a queue: a capture socket must be drained continuously or the kernel drops
frames, whatever the run loop is doing (committing alerts, taking a snapshot). Each input
runs :class:`~sensors.flows.live.LiveCapture` or :class:`~sensors.flows.netflow.
NetflowCollector` in a daemon thread; the run loop takes what has arrived with
:meth:`FlowInputs.drain`, tags it with the network model and feeds the engine in order of
arrival.

Event time: a flow event carries the flow's start but leaves the flow table when the flow
ends, up to ``active_timeout + idle_timeout`` (+1 s of sweep) later. The engine takes an
event older than its watermark (newest event − ``rules.lateness_seconds``) as late, so the
configuration refuses capture timeouts that do not fit in the lateness. NetFlow exporters
apply their own active timeout; set it below the lateness on the router (``ip flow-cache
timeout active 1`` on Cisco IOS) or raise ``rules.lateness_seconds``. Records that still
arrive late are dead-lettered with their reason, like late log lines.

Live traffic has no position to resume from: flows in progress when phiwatch stops are
reported as ended (``end_of_capture``), and traffic while it is down is not seen.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from scapy.error import Scapy_Exception

from sensors.errors import ConfigKeyError
from sensors.event import Event

log = logging.getLogger(__name__)

#: Events waiting for the run loop before an input blocks (back-pressure, bounded memory).
QUEUE_SIZE = 200_000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaptureConfig(_Model):
    """Capture on an interface (a SPAN or mirror port), with a BPF filter."""

    interface: Annotated[str, Field(min_length=1)]
    bpf: str | None = None
    idle_timeout_seconds: Annotated[float, Field(gt=0)] = 15.0
    active_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    max_flows: Annotated[int, Field(ge=1000)] = 500_000
    dns: bool = True

    @property
    def delay(self) -> float:
        """How long after its start a flow event can reach the engine."""
        return self.active_timeout_seconds + self.idle_timeout_seconds + 1.0


class NetflowConfig(_Model):
    """A NetFlow v5/v9 and IPFIX collector on a UDP address."""

    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 2055


class FlowInputConfig(_Model):
    """One live network input: exactly one of ``capture`` and ``netflow``."""

    name: Annotated[str, Field(min_length=1)]
    capture: CaptureConfig | None = None
    netflow: NetflowConfig | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FlowInputConfig:
        if (self.capture is None) == (self.netflow is None):
            raise ValueError("give exactly one of 'capture' (an interface) and 'netflow' "
                             "(a UDP listener)")
        return self


def check_lateness(inputs: list[FlowInputConfig], lateness: float) -> None:
    """Refuse capture timeouts under which every long flow would arrive late."""
    for i, inp in enumerate(inputs):
        cap = inp.capture
        if cap is not None and cap.delay >= lateness:
            raise ValueError(
                f"flows.{i}.capture: active_timeout_seconds ({cap.active_timeout_seconds:g}) + "
                f"idle_timeout_seconds ({cap.idle_timeout_seconds:g}) + 1 must be below "
                f"rules.lateness_seconds ({lateness:g}), or long flows reach the rules "
                "late and are dead-lettered; lower the timeouts or raise the lateness")


class FlowInputs:
    """The configured live inputs, opened at once (so a missing right to capture is an
    error at start, not a silent thread death) and run on threads by :meth:`start`."""

    def __init__(self, configs: list[FlowInputConfig]) -> None:
        from sensors.flows.live import LiveCapture
        from sensors.flows.netflow import NetflowCollector

        self.configs = configs
        self.queue: queue.Queue[Event] = queue.Queue(QUEUE_SIZE)
        self.counters: Counter[str] = Counter()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sources: list[tuple[str, Any]] = []
        try:
            for c in configs:
                if c.capture is not None:
                    cap = c.capture
                    try:
                        src: Any = LiveCapture(
                            cap.interface, cap.bpf, idle_timeout=cap.idle_timeout_seconds,
                            active_timeout=cap.active_timeout_seconds,
                            max_flows=cap.max_flows, dns=cap.dns)
                    except PermissionError as e:
                        raise PermissionError(
                            f"flows '{c.name}': capturing on {cap.interface} needs root or "
                            f"CAP_NET_RAW (setcap cap_net_raw,cap_net_admin+eip on the "
                            f"python binary of phiwatch's virtualenv): {e}") from e
                    except OSError as e:
                        raise OSError(f"flows '{c.name}': cannot capture on "
                                      f"{cap.interface}: {e}") from e
                    except Scapy_Exception as e:  # a BPF filter needs libpcap to compile
                        raise ConfigKeyError(
                            f"flows.{c.name}.capture.bpf",
                            f"cannot compile the filter {cap.bpf!r}: {e}",
                            hint="install libpcap (Debian: apt-get install libpcap0.8) or "
                                 "leave out `bpf`") from None
                else:
                    assert c.netflow is not None
                    try:
                        src = NetflowCollector(c.netflow.host, c.netflow.port)
                    except OSError as e:
                        raise OSError(f"flows '{c.name}': cannot listen on "
                                      f"{c.netflow.host}:{c.netflow.port}/udp: {e}") from e
                self._sources.append((c.name, src))
        except Exception:
            self.close()
            raise

    def __bool__(self) -> bool:
        return bool(self._sources)

    def addresses(self) -> dict[str, tuple[str, int]]:
        """The bound address of each NetFlow input (port 0 picks one)."""
        return {name: src.address for name, src in self._sources if hasattr(src, "address")}

    def start(self) -> None:
        for name, src in self._sources:
            t = threading.Thread(target=self._pump, args=(name, src),
                                 name=f"phiwatch-flows-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def _pump(self, name: str, src: Any) -> None:
        try:
            for event in src.events(self._stop):
                self.queue.put(event)
                self.counters[name] += 1
        except Exception:  # a dead input must be loud, and must not take the run down
            self.counters[f"{name}:failed"] += 1
            log.exception("live flow input %r stopped", name)

    def drain(self, limit: int) -> list[Event]:
        """Up to ``limit`` events that have arrived, without waiting."""
        out: list[Event] = []
        get = self.queue.get_nowait
        try:
            while len(out) < limit:
                out.append(get())
        except queue.Empty:
            pass
        return out

    def stats(self) -> dict[str, int]:
        """Events per input, and each input's own counters (drops, errors)."""
        out = dict(self.counters)
        for name, src in self._sources:
            counters = src.counters
            items = counters.as_dict() if hasattr(counters, "as_dict") else dict(counters)
            for k, v in items.items():
                if isinstance(v, int):
                    out[f"{name}:{k}"] = v
            if hasattr(src, "kernel_drops"):
                out[f"{name}:kernel_drops"] = src.kernel_drops
        return out

    def stop(self) -> None:
        """Stop the threads; captures report their open flows (``end_of_capture``)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()

    def close(self) -> None:
        self.stop()
        for _, src in self._sources:
            src.close()
        self._sources.clear()
