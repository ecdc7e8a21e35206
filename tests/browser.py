"""A real headless browser (Chromium, from Debian's packages) for the pages people look at.

`screenshot` renders a page as a user's browser would, `rendered` gives its DOM once its
scripts ran; `ink` says how much of the picture is not background, so that a test can tell a
rendered page from a blank one. Without Chromium the tests that need it skip, or fail under
`CI=true` (as for the test servers).
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
    _chromium(
        page,
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        f"--screenshot={picture}",
    )
    assert picture.exists(), f"no screenshot of {page}"
    return picture


def rendered(page: Path, budget_ms: int = 3000) -> str:
    """The DOM of `page` after its scripts ran (for up to `budget_ms` of virtual time)."""
    return _chromium(page, f"--virtual-time-budget={budget_ms}", "--dump-dom")


def _chromium(page: Path, *flags: str) -> str:
    """Headless Chromium's output for `page` with `flags`; skips without Chromium."""
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
            *flags,
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def ink(picture: Path) -> float:
    """The share of pixels that differ from the top-left one (the page's background)."""
    with Image.open(picture) as image:
        pixels = image.convert("RGB")
        background = pixels.getpixel((0, 0))
        colors = pixels.getcolors(maxcolors=1 << 24) or []
        total = pixels.width * pixels.height
    return 1 - sum(count for count, color in colors if color == background) / total
