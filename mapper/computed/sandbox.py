"""Computed fields' templates, in jinja2's sandbox, with undefined names as errors.

NULL rule: a NULL column is bound as `NULL`, an undefined value that cannot be turned into
text or computed with. A template that prints, concatenates, filters (but for `default`) or
computes with a NULL yields NULL as a whole (`render` returns None), which then follows the
field's NULL policy. `{% if col %}`, `col is none`, `col is defined`, `col or 'x'` and
`col | default('x')` handle a NULL, and the template renders as written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mapper.computed import TemplateProblem


class NullInTemplate(Exception):
    """A NULL value was printed or computed with: the template's value is NULL."""


class Null(Undefined):
    """A NULL column inside a template: false, `none`, not `defined`, and unusable as text."""

    __slots__ = ()

    def __str__(self) -> str:
        raise NullInTemplate(self._undefined_name)

    def __iter__(self) -> Iterator[Any]:
        raise NullInTemplate(self._undefined_name)

    def __len__(self) -> int:
        raise NullInTemplate(self._undefined_name)


_environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_environment.tests["none"] = lambda value: value is None or isinstance(value, Null)


def variables(source: str) -> set[str]:
    """The names a template reads; raises TemplateProblem on a syntax error or on private
    attribute access (`__class__` and the like: sandbox escape attempts)."""
    tree = _parsed(source)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = (
            node.attr
            if isinstance(node, nodes.Getattr)
            else getattr(node.arg, "value", "")
            if isinstance(node, nodes.Getitem)
            else None
        )
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateProblem(
                f"template reads the private attribute `{name}`: not allowed in the sandbox"
            )
    return meta.find_undeclared_variables(tree)


def unguarded(source: str) -> set[str]:
    """The names a template uses somewhere without handling NULL (outside an `if` or
    conditional expression that tests them, a `default` filter, an `is` test or the left of
    an `or`): a NULL there makes the template NULL."""
    found: set[str] = set()
    _walk(_parsed(source), frozenset(), found)
    return found


def _walk(node: nodes.Node, guarded: frozenset[str], found: set[str]) -> None:
    if isinstance(node, nodes.Name):
        if node.ctx == "load" and node.name not in guarded:
            found.add(node.name)
        return
    if isinstance(node, nodes.If | nodes.CondExpr):  # a test on a name handles it
        guarded = guarded | _names(node.test)
    if isinstance(node, nodes.Test) or (
        isinstance(node, nodes.Filter) and node.name in ("default", "d")
    ):
        guarded = guarded | (_names(node.node) if node.node is not None else frozenset())
    elif isinstance(node, nodes.Or):
        guarded = guarded | _names(node.left)
    for child in node.iter_child_nodes():
        _walk(child, guarded, found)


def _names(node: nodes.Node) -> frozenset[str]:
    return frozenset(name.name for name in node.find_all(nodes.Name)) | (
        {node.name} if isinstance(node, nodes.Name) else set()
    )


@lru_cache(maxsize=256)
def _parsed(source: str) -> nodes.Template:
    try:
        return _environment.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem(
            f"template syntax error at line {error.lineno}: {error.message}"
        ) from None


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    return _environment.from_string(source)


def render(source: str, values: Mapping[str, Any]) -> str | None:
    """Render a template over a row's values (None for NULL); None when a NULL reached the
    output or a computation (see the module's NULL rule). jinja2's sandbox and undefined
    errors propagate."""
    # jinja2 raises whatever `exc` is given; its stub asks for a TemplateRuntimeError, which
    # NullInTemplate is not: it is the NULL rule's signal, not a template error
    bound = {
        name: Null(name=name, exc=NullInTemplate)  # type: ignore[arg-type]
        if value is None
        else value
        for name, value in values.items()
    }
    try:
        return _compiled(source).render(bound)
    except NullInTemplate:
        return None
