"""Sensors: turn raw inputs (HIS access logs, network traffic) into normalized events.

Sensors import nothing from the later stages (rules, alerting, api); data flows one way.
"""

from sensors.event import HIS_ACTIONS, Event

__all__ = ["HIS_ACTIONS", "Event"]
