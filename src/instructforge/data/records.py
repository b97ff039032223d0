"""The dataset records every stage shares: a task in the Self-Instruct schema, its instances, one
(instruction, input, output) triple (the one shape of an instance with its instruction: what
feedback scores, what score data files, SFT rows and exports are made of), and the reason a
candidate was rejected.

All records are ``@dataclass(slots=True)`` and round-trip through plain dicts (JSONL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Instance:
    input: str
    output: str


@dataclass(slots=True)
class Task:
    """A task in the Self-Instruct schema."""

    instruction: str
    instances: list[Instance] = field(default_factory=list)
    is_classification: bool = False
    id: str = ""
    name: str = ""

    def triples(self) -> list[Triple]:
        """Each instance with the instruction, in order."""
        return [Triple(self.instruction, i.input, i.output) for i in self.instances]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "instruction": self.instruction,
            "instances": [{"input": i.input, "output": i.output} for i in self.instances],
            "is_classification": self.is_classification,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        return cls(
            instruction=d["instruction"],
            instances=[Instance(i.get("input", ""), i.get("output", "")) for i in d.get("instances", [])],
            is_classification=bool(d.get("is_classification", False)),
            id=str(d.get("id", "")),
            name=str(d.get("name", "")),
        )


@dataclass(slots=True)
class Rejection:
    reason: str
    detail: str = ""


@dataclass(slots=True, frozen=True)
class Triple:
    """One instance written for one instruction: what the automated feedback scores."""

    instruction: str
    input: str
    output: str

    def as_dict(self) -> dict[str, str]:
        """The triple as an Alpaca record."""
        return {"instruction": self.instruction, "input": self.input, "output": self.output}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Triple:
        """The triple of an Alpaca record (or an export record, which has more columns)."""
        return cls(d["instruction"], d["input"], d["output"])
