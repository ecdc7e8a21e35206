"""What validation found: tallies per collection and check, and the differences."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

CHECKS = ("counts", "arrays", "references", "denormalized", "types", "schema", "equality")


@dataclass
class Tally:
    checked: int = 0
    failed: int = 0

    @property
    def passed(self) -> int:
        return self.checked - self.failed

    def as_dict(self) -> dict[str, int]:
        return {"checked": self.checked, "passed": self.passed, "failed": self.failed}


@dataclass(frozen=True)
class Difference:
    """One thing that differs; expected and actual are display text (Extended JSON)."""

    collection: str
    check: str
    id: str
    key: str
    path: str
    expected: str
    actual: str
    message: str = ""

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass
class CollectionResult:
    name: str
    source_rows: int = 0
    documents: int = 0
    rejected: int = 0  # source rows the run rejects, without a document (as expected)
    checks: dict[str, Tally] = field(default_factory=lambda: {name: Tally() for name in CHECKS})

    @property
    def failed(self) -> int:
        return sum(tally.failed for tally in self.checks.values())


@dataclass
class Report:
    """What validation found, and what it ran against (URLs without their passwords)."""

    source: str
    target: str
    mode: str
    collections: list[CollectionResult] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    total_differences: int = 0
    started: str = ""  # when, in UTC (ISO 8601, to the second)
    seconds: float = 0.0  # how long it took
    versions: dict[str, str] = field(default_factory=dict)  # mapper, python, source, target

    @property
    def ok(self) -> bool:
        return all(result.failed == 0 for result in self.collections)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "source": self.source,
            "target": self.target,
            "mode": self.mode,
            "started": self.started,
            "seconds": round(self.seconds, 3),
            "versions": self.versions,
            "collections": [
                {
                    "name": c.name,
                    "source_rows": c.source_rows,
                    "documents": c.documents,
                    "rejected": c.rejected,
                    "failed": c.failed,
                    "checks": {k: t.as_dict() for k, t in c.checks.items()},
                }
                for c in self.collections
            ],
            "total_differences": self.total_differences,
            "differences": [d.as_dict() for d in self.differences],
        }
