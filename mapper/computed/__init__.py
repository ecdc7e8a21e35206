"""Computed fields: jinja2 templates in a sandbox (`sandbox`), imported by the first
mapping that has one (a run of mappings without templates never loads jinja2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TemplateProblem(ValueError):
    """A template that cannot be parsed."""


def variables(source: str) -> set[str]:
    """The names a template reads (`sandbox.variables`)."""
    from mapper.computed import sandbox

    return sandbox.variables(source)


def unguarded(source: str) -> set[str]:
    """The names a template uses without handling NULL (`sandbox.unguarded`)."""
    from mapper.computed import sandbox

    return sandbox.unguarded(source)


def render(source: str, values: Mapping[str, Any]) -> str | None:
    """A template rendered over a row's values (`sandbox.render`)."""
    from mapper.computed import sandbox

    return sandbox.render(source, values)
