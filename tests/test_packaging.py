"""What `pip install` gives: the `mapper` command beside `python -m mapper`, under a
distribution name of its own (`mapper` on the package index is another project)."""

from __future__ import annotations

import shutil
import subprocess
from importlib import metadata

import mapper


def test_the_distribution_is_mapper_migrate_and_imports_as_mapper() -> None:
    assert metadata.version("mapper-migrate") == mapper.__version__
    scripts = {
        e.name: e.value
        for e in metadata.entry_points(group="console_scripts")
        if e.dist is not None and e.dist.name == "mapper-migrate"
    }
    assert scripts == {"mapper": "mapper.cli:main"}


def test_the_mapper_command_runs() -> None:
    command = shutil.which("mapper")
    assert command is not None, "pip install -e . provides a `mapper` command"
    result = subprocess.run(
        [command, "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, f"mapper {mapper.__version__}")


def test_the_gpl_test_server_is_a_test_only_dependency() -> None:
    """SecantusDB (GPL) is in the `test` extra alone, and no module of the package imports it."""
    import configparser
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    setup = configparser.ConfigParser()
    setup.read(root / "setup.cfg")
    requirements = {"install_requires": setup["options"]["install_requires"]}
    requirements.update(setup["options.extras_require"])
    holding = [name for name, listed in requirements.items() if "secantusdb" in listed.lower()]
    assert holding == ["test"]
    importing = [
        str(path.relative_to(root))
        for path in (root / "mapper").rglob("*.py")
        if re.search(r"^\s*(import|from)\s+secantus", path.read_text(), re.MULTILINE)
    ]
    assert importing == []
