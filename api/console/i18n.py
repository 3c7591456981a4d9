"""The console's words in Vietnamese (default) and English: one JSON catalogue each.

Templates call ``t("key")`` (``t("key", n=3)`` fills ``{n}``). Both catalogues must hold
the same keys; ``tests/console`` checks that, and that every key a template uses exists.
A key missing at run time shows as itself rather than failing the page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from api.console.config import LANGUAGES, Language

CATALOGUES = Path(__file__).parent / "i18n"
Translate = Callable[..., str]


@cache
def catalogue(lang: Language) -> dict[str, str]:
    data = json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{lang}.json: expected an object of strings")
    return data


def translator(lang: Language) -> Translate:
    words = catalogue(lang)

    def t(key: str, **values: Any) -> str:
        text = words.get(key, key)
        return text.format(**values) if values else text

    return t


def language(value: str | None, default: Language) -> Language:
    """``value`` when it names a language we have, else ``default``."""
    for lang in LANGUAGES:
        if value == lang:
            return lang
    return default
