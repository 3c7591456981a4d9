"""Fixtures for the rule engine tests: real Sigma YAML, real events, no mocks."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
