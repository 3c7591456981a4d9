"""YAML read strictly: safe_load, and a key given twice in one mapping is an error.

PyYAML keeps the last of two equal keys without a word, so a rule or a configuration file
edited in a hurry (``condition:`` twice, ``paths:`` twice) silently meant something else
than it said. Both the configuration and the rule loader read through here.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names one key twice; ``problem_mark`` is where the second one is."""


#: libyaml's parser when PyYAML was built with it (several times faster), else PyYAML's.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_Base):  # type: ignore[valid-type,misc]
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: let the base class say so
                duplicate = False
            if duplicate:
                raise DuplicateKeyError(
                    "while reading a mapping", node.start_mark,
                    f"the key {key!r} is given twice (the second would silently win)",
                    key_node.start_mark)
            if not isinstance(key, (list, dict)):
                seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def load(text: str) -> Any:
    """The one document in ``text``; ``yaml.YAMLError`` (with a mark) if it is not
    valid YAML or repeats a key."""
    return yaml.load(text, Loader=_StrictLoader)


def check_all(text: str) -> None:
    """Raise ``DuplicateKeyError`` if any document of a multi-document text repeats a key."""
    for _ in yaml.load_all(text, Loader=_StrictLoader):
        pass
