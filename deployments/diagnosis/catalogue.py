"""The catalogue (``catalogue.toml``, loaded once) and the matcher: a ``Signal`` is
what one failure looks like (a stopped task's container, a service event, an
instance's agent); ``entry_for`` gives the first catalogue entry it matches."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

CATALOGUE_PATH = Path(__file__).with_name("catalogue.toml")

# The signal fields a regex criterion reads ("reason" reads both stop texts).
_TEXT_CRITERIA = (
    "stopped_reason",
    "container_reason",
    "event",
    "agent_state",
    "agent_error",
    "activation_state",
)


@dataclass(frozen=True)
class Signal:
    """One failure as the mirror shows it; every field is optional."""

    stop_code: str = ""
    stopped_reason: str = ""
    container_reason: str = ""
    exit_code: int | None = None
    event: str = ""
    agent_state: str = ""
    agent_error: str = ""
    activation_state: str = ""


@dataclass(frozen=True)
class Entry:
    code: str
    title: str
    cause: str
    fix: str
    docs_url: str
    evidence: str
    example: str
    example_field: str
    example_exit_code: int | None
    problem: bool
    stop_codes: tuple[str, ...]
    exit_codes: tuple[int, ...]
    # criterion name -> compiled regex (the *_reason, event, agent and activation ones)
    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    def matches(self, signal: Signal) -> bool:
        """Every criterion the entry declares holds (an entry with none never matches)."""
        if not (self.stop_codes or self.exit_codes or self.patterns):
            return False
        if self.stop_codes and signal.stop_code not in self.stop_codes:
            return False
        if self.exit_codes and signal.exit_code not in self.exit_codes:
            return False
        return all(_text_matches(name, rx, signal) for name, rx in self.patterns)

    def example_signal(self) -> Signal:
        """The entry's documented example as the signal the matcher would see."""
        value: Any = self.example
        return Signal(**{self.example_field: value, "exit_code": self.example_exit_code})

    @property
    def criteria(self) -> list[str]:
        """What it matches, in words (for the rendered docs)."""
        out = [f"stop code {' or '.join(self.stop_codes)}"] if self.stop_codes else []
        if self.exit_codes:
            out.append("exit code " + " or ".join(str(c) for c in self.exit_codes))
        words = {"reason": "stopped or container reason"}
        out += [f"{words.get(n, n.replace('_', ' '))} ~ `{rx.pattern}`" for n, rx in self.patterns]
        return out


def _text_matches(name: str, rx: re.Pattern[str], signal: Signal) -> bool:
    texts = (
        [signal.stopped_reason, signal.container_reason]
        if name == "reason"
        else [getattr(signal, name)]
    )
    return any(t and rx.search(t) for t in texts)


def _entry(raw: dict[str, Any]) -> Entry:
    known = {f.name for f in fields(Entry)} | {"reason", *_TEXT_CRITERIA}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"catalogue entry {raw.get('code')}: unknown keys {sorted(unknown)}")
    patterns = tuple(
        (name, re.compile(raw[name], re.IGNORECASE | re.DOTALL))
        for name in ("reason", *_TEXT_CRITERIA)
        if name in raw
    )
    return Entry(
        code=raw["code"],
        title=raw["title"],
        cause=raw["cause"],
        fix=raw["fix"],
        docs_url=raw["docs_url"],
        evidence=raw.get("evidence", "none"),
        example=raw["example"],
        example_field=raw["example_field"],
        example_exit_code=raw.get("example_exit_code"),
        problem=raw.get("problem", True),
        stop_codes=tuple(raw.get("stop_codes", ())),
        exit_codes=tuple(raw.get("exit_codes", ())),
        patterns=patterns,
    )


@cache
def catalogue() -> tuple[Entry, ...]:
    """Every entry, in matching order (most specific first); read once."""
    with CATALOGUE_PATH.open("rb") as fh:
        entries = tuple(_entry(raw) for raw in tomllib.load(fh)["entry"])
    codes = [e.code for e in entries]
    if len(set(codes)) != len(codes):
        raise ValueError("catalogue codes must be unique")
    return entries


def entry_for(signal: Signal) -> Entry | None:
    """The first (most specific) entry the signal matches."""
    return next((e for e in catalogue() if e.matches(signal)), None)


def entry_by_code(code: str) -> Entry:
    return next(e for e in catalogue() if e.code == code)
