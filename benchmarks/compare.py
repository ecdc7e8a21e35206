"""Sample documents from every variant must equal mapper's: nobody wins by doing less."""

from __future__ import annotations

import datetime as dt
from typing import Any

import bson
from bson import Decimal128

from mapper.engine.load import CODEC


def normalize(value: Any) -> Any:
    """Decoded BSON with Decimal128 as its exact text (what `--decimal-as string` writes)."""
    if isinstance(value, dict):
        return {key: normalize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize(item) for item in value]
    if isinstance(value, Decimal128):
        return str(value)
    if isinstance(value, dt.datetime):  # BSON keeps milliseconds, always UTC
        return value.astimezone(dt.UTC)
    return value


def decode(hex_data: str) -> dict:
    return normalize(bson.decode(bytes.fromhex(hex_data), codec_options=CODEC))


def first_difference(left: Any, right: Any, path: str = "") -> str | None:
    """Where two normalized documents first differ (a path and the two types), or None."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in list(left) + [k for k in right if k not in left]:
            if key not in left or key not in right:
                return f"{path}.{key}: only in {'mapper' if key in left else 'variant'}"
            found = first_difference(left[key], right[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return f"{path}: {len(left)} elements against {len(right)}"
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if (
        left != right
        or type(left) is not type(right)
        and not (isinstance(left, int) and isinstance(right, int))
    ):
        return (
            f"{path}: {type(left).__name__} {str(left)[:40]!r} against "
            f"{type(right).__name__} {str(right)[:40]!r}"
        )
    return None


def compare(reference: dict[str, str], samples: dict[str, str], expected: list[str]) -> dict:
    """Compare a variant's sampled documents (hex BSON by _id) with the reference's."""
    problems = []
    for key in expected:
        if key not in reference:
            problems.append(f"{key}: missing from mapper's output")
        elif key not in samples:
            problems.append(f"{key}: missing from this variant's output")
        else:
            found = first_difference(decode(reference[key]), decode(samples[key]))
            if found:
                problems.append(f"{key}{found}")
    identical = sum(1 for key in expected if key in samples and samples[key] == reference.get(key))
    return {
        "compared": len(expected),
        "equal": len(expected) - len(problems),
        "identical_bytes": identical,
        "ok": not problems,
        "problems": problems[:10],
    }
