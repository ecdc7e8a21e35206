"""`mapper validate`: prove that a MongoDB target holds what the mappings make of the source.

Every check but deep equality reads the source with its own SQL (the plan's root query, one
GROUP BY per array, one query per array of denormalized copies) and never the run's document
builder; deep equality compares against documents from the preview machinery.

    report = validate(plan, engine, catalog, "mongodb://host/db", sample=200)
    print(render(report, "text")); exit(0 if report.ok else 1)

Modules: `checks` (the checks and `validate`), `rows` (source rows → expected ids and values),
`values` (canonical comparison, paths, BSON type promises), `results` (tallies, differences),
`output` (text, JSON, HTML from `mapper/templates/validate.html.j2`).
"""

from mapper.validate.checks import validate
from mapper.validate.output import render
from mapper.validate.results import CHECKS, CollectionResult, Difference, Report, Tally

__all__ = ["CHECKS", "CollectionResult", "Difference", "Report", "Tally", "render", "validate"]
