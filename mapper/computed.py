"""Computed fields: jinja2 templates in a sandbox, with undefined names as errors."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

_environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class TemplateProblem(ValueError):
    """A template that cannot be parsed."""


def variables(source: str) -> set[str]:
    """The names a template reads; raises TemplateProblem on a syntax error or on private
    attribute access (`__class__` and the like: sandbox escape attempts)."""
    try:
        tree = _environment.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"template syntax error at line {error.lineno}: "
                              f"{error.message}") from None
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", "")
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateProblem(f"template reads the private attribute `{name}`: "
                                  "not allowed in the sandbox")
    return meta.find_undeclared_variables(tree)


@lru_cache(maxsize=256)
def _compiled(source: str):
    return _environment.from_string(source)


def render(source: str, values: Mapping[str, Any]) -> str:
    """Render a template; jinja2's sandbox and undefined errors propagate."""
    return _compiled(source).render(values)
