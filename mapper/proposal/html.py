"""The proposal as a one-page HTML report (`mapper init --format html`): per collection the
tree of what it embeds, with fan-outs and estimated sizes, and what was referenced instead."""

from __future__ import annotations

from mapper.proposal.propose import Proposal
from mapper.validation.output import page

EMBEDDED = ("subdocument", "array", "many_to_many", "parent_chain")
REFERENCED = ("reference", "references", "count")
REPORT_FILE = "init-report.html"


def size(count: int) -> str:
    """Bytes for a reader: `812 B`, `3.4 KiB`, `1.2 MiB`."""
    if count < 1024:
        return f"{count:,} B"
    if count < 2**20:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 2**20:.1f} MiB"


def html(proposal: Proposal) -> str:
    return page(
        "init.html.j2", proposal=proposal, embedded=EMBEDDED, referenced=REFERENCED, size=size
    )
