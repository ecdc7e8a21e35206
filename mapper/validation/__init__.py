"""`mapper validate`: prove that a target holds what the mappings make of the source.

Nothing here uses the run's document builder. Deep equality compares with documents rebuilt
by a second, naive implementation of the mapping language (`rebuild`), read from the mapping
files' data with plain per-table queries; the other checks read the source with SQL of their
own over the plan's names. Collections are checked batch by batch of root rows, documents
fetched from the target by `_id`, so memory is bounded by a batch.

    report = validate(plan, engine, catalog, "mongodb://host/db", mappings=mappings)
    print(render(report, "text")); exit(0 if report.ok else 1)

Modules: `checks` (the checks and `validate`), `rebuild` (the expected documents) over
`source` (plain reads of the snapshot), `targets` (MongoDB and file: targets), `rows` and
`sql` (plan rows → expected ids, values, child rows), `values` (canonical comparison, paths,
BSON type promises), `results` (tallies, differences), `output` (text, JSON, HTML from
`mapper/templates/validate.html.j2`).
"""

from mapper.validation.checks import validate
from mapper.validation.output import render
from mapper.validation.results import CHECKS, CollectionResult, Difference, Report, Tally

__all__ = ["CHECKS", "CollectionResult", "Difference", "Report", "Tally", "render", "validate"]
