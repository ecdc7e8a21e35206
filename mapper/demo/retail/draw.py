"""Values for the retail demo, drawn from one random stream: instants, days, money, people."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from mapper.demo.generate import FIRST_NAMES, LAST_NAMES

START = datetime(2021, 1, 1, tzinfo=UTC)
EVENTS_START = datetime(2022, 1, 1, tzinfo=UTC)  # the first `events` partition
END = datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Draws:
    """The value drawing shared by the retail generators."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def moment(self, low: datetime, high: datetime = END) -> datetime:
        """A UTC instant in [low, high], with microseconds."""
        span = max(0, (high - low) // _MICROSECOND)
        return low + self.rng.randrange(span + 1) * _MICROSECOND

    def within(self, low: datetime, days: float) -> datetime:
        """An instant within `days` after `low` (and not after END)."""
        return self.moment(low, min(END, low + timedelta(days=days)))

    def day(self, low: date, high: date) -> date:
        return low + timedelta(days=self.rng.randrange(max(1, (high - low).days + 1)))

    def cents(self, low: int, high: int) -> Decimal:
        """An amount with two places, in [low, high] hundredths."""
        return Decimal(self.rng.randint(low, high)).scaleb(-2)

    def person(self, taken: set[str], domain: str) -> tuple[str, str]:
        """A full name and an email address not in `taken` (which it joins)."""
        first, first_ascii = self.rng.choice(FIRST_NAMES)
        last, last_ascii = self.rng.choice(LAST_NAMES)
        local, number = f"{first_ascii}.{last_ascii}", 1
        email = f"{local}@{domain}"
        while email in taken:
            number += 1
            email = f"{local}{number}@{domain}"
        taken.add(email)
        return f"{first} {last}", email
