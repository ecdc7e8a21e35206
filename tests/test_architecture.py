"""The one-way flow, checked on the source: a module imports only from its own or an earlier
stage, and each third-party library is imported only by the modules that own it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mapper"

# stage of each module (by longest prefix); a module may import its own stage or earlier ones
STAGES = {
    "mapper": 0,
    "mapper.errors": 0,
    "mapper.config": 0,
    "mapper.types": 0,
    "mapper.ids": 0,
    "mapper.plan": 0,
    "mapper.outline": 0,
    "mapper.computed": 0,
    "mapper.spec": 1,
    "mapper.catalog": 2,
    "mapper.resolve": 3,
    "mapper.compile": 4,
    "mapper.validator": 4,
    "mapper.engine": 5,
    "mapper.pipeline": 6,
    "mapper.validation": 6,
    "mapper.data_lint": 7,
    "mapper.report": 7,
    "mapper.diagram": 7,
    "mapper.demo": 7,
    "mapper.proposal": 7,
    "mapper.api": 8,
    "mapper.sync": 8,  # a load through the API, then the stream
    "mapper.cli": 9,
    "mapper.__main__": 9,
}
OWNERS = {
    "yaml": ("mapper.spec.read",),
    "jsonschema": ("mapper.spec.schema",),
    "pymongo": (
        "mapper.config",
        "mapper.engine.load",
        "mapper.engine.server_errors",
        "mapper.validation",
    ),
    "jinja2": ("mapper.computed", "mapper.validation.output"),
    "psycopg2": ("mapper.engine.extract", "mapper.sync.slot"),  # and the replication link
    "MySQLdb": ("mapper.engine.extract",),
    "dotenv": ("mapper.config",),
    "tqdm": ("mapper.progress",),
    "dask": ("mapper.engine.cluster",),
    "distributed": ("mapper.engine.cluster",),
    "shtab": ("mapper.cli",),
}
REEXPORT = ("mapper", "mapper.api")  # the package is the API: `import mapper; mapper.prepare`
REFLECTION = ("mapper.catalog", "mapper.demo")  # sqlalchemy.inspect


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module == "mapper":
                names |= {f"mapper.{alias.name}" for alias in node.names}
    return names


def _stage(module: str) -> int:
    prefix = max(
        (name for name in STAGES if module == name or module.startswith(name + ".")), key=len
    )
    return STAGES[prefix]


def _within(module: str, owners: tuple[str, ...]) -> bool:
    return any(module == owner or module.startswith(owner + ".") for owner in owners)


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_no_later_stage(module: str) -> None:
    later = sorted(
        name
        for name in _imports(MODULES[module])
        if name.startswith("mapper.")
        and name in MODULES
        and _stage(name) > _stage(module)
        and (module, name) != REEXPORT
    )
    assert later == [], f"{module} (stage {_stage(module)}) imports later stages: {later}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_third_party_libraries_stay_with_their_owners(module: str) -> None:
    tree = MODULES[module]
    strays = sorted(
        library
        for library, owners in OWNERS.items()
        if any(name.split(".")[0] == library for name in _imports(tree))
        and not _within(module, owners)
    )
    reflects = any(
        isinstance(node, ast.Attribute)
        and node.attr == "inspect"
        and isinstance(node.value, ast.Name)
        and node.value.id in ("sa", "sqlalchemy")
        for node in ast.walk(tree)
    )
    if reflects and not _within(module, REFLECTION):
        strays.append("sqlalchemy.inspect")
    assert strays == [], f"{module} imports {strays}, owned by other modules"


def test_the_checks_see_every_module() -> None:
    assert {"mapper.cli", "mapper.engine.run", "mapper.spec.read"} <= set(MODULES)
    assert all(_stage(module) >= 0 for module in MODULES)
