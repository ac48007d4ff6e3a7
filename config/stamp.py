"""What a stack's data was made for, written once in its home, and checked by every command.

A stack's data is made for one profile (Kafka formatted with the SCRAM users, Cassandra's
roles) and one topology (one broker's log dir or three): ``make up`` writes each
:class:`Stamp` in ``<STACK_HOME>``, and a command of another value is refused before it
reaches a service, with what to run instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class StampMismatch(ValueError):
    """This command's value is not the one the stack's data was made with."""


@dataclass(frozen=True)
class Stamp:
    """One stamped choice: ``kind`` (profile), its file, its make variable (PROFILE)."""

    kind: str
    legacy: str  # what data from before the stamp existed was made for
    variable: str
    elsewhere: str  # what the other value needs to run beside this stack

    @property
    def file(self) -> str:
        return self.kind

    def of(self, stack_home: Path) -> str | None:
        """The value the data under ``stack_home`` was made with; None: no data yet."""
        stamp = stack_home / self.file
        if stamp.is_file():
            return stamp.read_text().strip() or None
        return self.legacy if (stack_home / "data").is_dir() else None

    def write(self, stack_home: Path, value: str) -> None:
        stack_home.mkdir(parents=True, exist_ok=True)
        (stack_home / self.file).write_text(value + "\n")

    def check(self, stack_home: Path, value: str) -> None:
        """Refuse a command whose value is not the one the data was made with."""
        made = self.of(stack_home)
        if made is None or made == value:
            return
        var = self.variable
        raise StampMismatch(
            f"the stack in {stack_home} runs the {made} {self.kind}, this command the {value} "
            f"one (STACK_{var}): run it with {var}={made} (make <target> {var}={made}); to "
            f"switch the stack to {value}, `make down {var}={made}` then `make clean` "
            f"(deletes its data), or give the other {self.kind} {self.elsewhere}"
        )
