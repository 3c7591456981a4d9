"""Micro-benchmark of context enrichment: events per second and µs per event on one core.

Simulates a hospital day (``phiwatch simulate``'s small or large preset) into a temporary
folder, loads its roster, flagged patients and encounters, parses its HIS log, and times
``Enricher.enrich`` alone over fresh copies of the events (enrichment writes into the
event, so each repeat starts from the parsed fields again). The budget is 5 µs per event
on average.

    .venv/bin/python bench/enrich_micro.py [--preset small|large] [--days 1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sensors.context import Context, ContextConfig, Enricher
from sensors.event import Event
from sensors.parsers import JsonParserConfig, parser_for
from simulator import HospitalSpec, simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=["small", "large"], default="small")
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        spec = HospitalSpec.large() if args.preset == "large" else HospitalSpec.small()
        simulate(spec, out, days=args.days, seed=7)
        config = ContextConfig(roster=out / "roster.csv",
                               flagged_patients=out / "flagged_patients.csv",
                               encounters=out / "encounters.csv")
        t = time.perf_counter()
        context = Context(config)
        context.load_all()
        load = time.perf_counter() - t
        parser = parser_for(JsonParserConfig(format="json"))
        events: list[Event] = []
        for path in sorted((out / "his").glob("*.log")):
            with path.open("rb") as f:
                for n, line in enumerate(f, 1):
                    events.extend(parser.parse(line.rstrip(b"\n"), f"{path}:{n}"))
    sizes = {k: st.used for k, st in context.status.items()}
    print(f"context: {sizes} loaded in {load * 1000:.0f} ms; {len(events):,} events")
    enrich = Enricher(context).enrich
    best = float("inf")
    for _ in range(args.repeat):
        fresh = [Event(e.timestamp, dict(e.fields), e.ref, e.id) for e in events]
        t = time.perf_counter()
        for e in fresh:
            enrich(e)
        best = min(best, time.perf_counter() - t)
    rate = len(events) / best
    print(f"enrich: {rate:,.0f} events/s, {1e6 / rate:.2f} µs/event (best of {args.repeat}; "
          f"budget 5 µs)")


if __name__ == "__main__":
    main()
