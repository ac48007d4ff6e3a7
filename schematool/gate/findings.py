"""What every check reports: a :class:`Finding`, and how it is printed for people and for GitHub."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One problem in one schema file, at one field.

    ``path`` is the dotted field path (``address.city``; ``tags[]`` for array items,
    ``attrs{}`` for map values); empty when the finding is about the whole file.
    """

    file: str
    path: str
    rule: str
    message: str
    line: int | None = None

    def with_line(self, line: int | None) -> Finding:
        return Finding(self.file, self.path, self.rule, self.message, line)


def format_text(finding: Finding) -> str:
    where = finding.file if finding.line is None else f"{finding.file}:{finding.line}"
    field = f" {finding.path}:" if finding.path else ""
    return f"{where}: [{finding.rule}]{field} {finding.message}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(finding: Finding) -> str:
    """A GitHub Actions workflow command: shows as an annotation on the pull request's diff."""
    props = [f"file={_escape_property(finding.file)}"]
    if finding.line is not None:
        props.append(f"line={finding.line}")
    props.append(f"title={_escape_property(finding.rule)}")
    field = f"{finding.path}: " if finding.path else ""
    return f"::error {','.join(props)}::{_escape_data(field + finding.message)}"


def locate_line(text: str, path: str) -> int | None:
    """The 1-based line declaring the field at ``path`` in a .avsc text, or None.

    Walks the path's names in order, each searched after the previous one, which is
    enough to tell ``address.city`` from a top-level ``city``.
    """
    offset = 0
    found: int | None = None
    for name in (n.rstrip("[]{}") for n in path.split(".") if n):
        match = re.compile(r'"name"\s*:\s*"' + re.escape(name) + '"').search(text, offset)
        if match is None:
            return found
        offset = match.end()
        found = text.count("\n", 0, match.start()) + 1
    return found
