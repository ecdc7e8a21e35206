"""A real headless browser (Chromium, from Debian's packages) for the pages people look at.

`screenshot` renders a page as a user's browser would; `ink` says how much of the picture is
not background, so that a test can tell a rendered page from a blank one. Without Chromium the
tests that need it skip, or fail under `CI=true` (as for the test servers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page: Path, picture: Path, width: int = 1200, height: int = 1600) -> Path:
    """`page` (a local HTML file) rendered by headless Chromium into the PNG `picture`."""
    if CHROMIUM is None:
        reason = "no Chromium (Debian: apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser unavailable under CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # tests may run as root
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--screenshot={picture}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0 and picture.exists(), done.stderr[-2000:]
    return picture


def ink(picture: Path) -> float:
    """The share of pixels that differ from the top-left one (the page's background)."""
    with Image.open(picture) as image:
        pixels = image.convert("RGB")
        background = pixels.getpixel((0, 0))
        colors = pixels.getcolors(maxcolors=1 << 24) or []
        total = pixels.width * pixels.height
    return 1 - sum(count for count, color in colors if color == background) / total
