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
