"""YAML files whose errors point at a line: config, topics and policies are edited by people.

``load`` returns the data together with the line of every value, addressed by
its path (``("segments", 2, "first_touch", "within")``), so a validation error
found later can still say ``policy.yaml:14: segments[2].first_touch.within: ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

Location = tuple[str | int, ...]


class ConfigError(Exception):
    """A file a person wrote is wrong; the message names file, line, path and the fix."""

    def __init__(self, file: Path | str, line: int | None, where: str, problem: str) -> None:
        place = f"{file}:{line}" if line else str(file)
        prefix = f"{place}: {where}: " if where else f"{place}: "
        super().__init__(prefix + problem)
        self.file, self.line, self.where, self.problem = str(file), line, where, problem


def dotted(location: Sequence[str | int]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class YamlDocument:
    def __init__(self, path: Path, data: Any, lines: dict[Location, int]) -> None:
        self.path, self.data, self._lines = path, data, lines

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """Line of the deepest known value on ``location`` (pydantic locs may go deeper)."""
        loc = tuple(location)
        while loc not in self._lines and loc:
            loc = loc[:-1]
        return self._lines.get(loc)

    def error(self, location: Sequence[str | int], problem: str) -> ConfigError:
        return ConfigError(self.path, self.line_of(location), dotted(location), problem)


def load(path: Path) -> YamlDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, None, "", f"cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(path, line, "", f"not valid YAML: {exc.problem}") from None
    lines: dict[Location, int] = {}
    data = _construct(node, (), lines) if node is not None else None
    return YamlDocument(path, data, lines)


def _construct(node: yaml.Node, location: Location, lines: dict[Location, int]) -> Any:
    lines[location] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(" ").construct_object(key_node)  # scalars only
            result[key] = _construct(value_node, (*location, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*location, i), lines) for i, item in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node)
