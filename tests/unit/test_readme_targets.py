"""Every documented Makefile target (a ``##`` help line) is named in the README.

In the targets table or the "There are also" line, as `make <target>` or as `<target>`
in backticks; `make help` prints them in the Makefile's order.
"""

from __future__ import annotations

import re

from config.settings import PROJECT_ROOT

TARGET = re.compile(r"^([a-zA-Z0-9_-]+):.*## ", re.MULTILINE)
CODE = re.compile(r"`([^`\n]+)`")
FENCED = re.compile(r"```.*?```", re.DOTALL)


def documented_targets() -> set[str]:
    return set(TARGET.findall((PROJECT_ROOT / "Makefile").read_text()))


def readme_names() -> set[str]:
    names = set()
    text = FENCED.sub("", (PROJECT_ROOT / "README.md").read_text())
    for span in CODE.findall(text):
        words = span.split()
        if words[:1] == ["make"] and len(words) > 1:
            names.add(words[1])
        elif len(words) == 1:
            names.add(words[0])
    return names


def test_every_makefile_target_is_in_the_readme() -> None:
    missing = sorted(documented_targets() - readme_names())
    assert not missing, f"README.md does not name these Makefile targets: {missing}"


def test_the_readme_names_no_target_the_makefile_lacks() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    claimed = set(re.findall(r"`make ([a-z0-9-]+)", readme))
    assert claimed <= documented_targets(), sorted(claimed - documented_targets())
