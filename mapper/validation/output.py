"""The validation report as a text table, JSON, or an HTML page (jinja2, autoescaped)."""

from __future__ import annotations

import json

import jinja2

from mapper.validation.results import CHECKS, Report

TEXT_DIFFERENCES = 20
HTML_DIFFERENCES = 200
FORMATS = ("text", "json", "html")


def render(report: Report, form: str = "text") -> str:
    if form == "json":
        return json.dumps(report.as_dict(), indent=2, ensure_ascii=False)
    if form == "html":
        return html(report)
    if form == "text":
        return text(report)
    raise ValueError(f"unknown format {form!r}: use one of {', '.join(FORMATS)}")


def _verdict(report: Report) -> str:
    if report.ok:
        return "the target matches the source"
    failed = sum(result.failed for result in report.collections)
    return (
        f"the target differs from the source: {failed} failed checks, "
        f"{report.total_differences} differences"
    )


def text(report: Report) -> str:
    lines = [
        f"source {report.source} → target {report.target} ({report.mode})",
        "",
        f"{'collection':<20} {'check':<13} {'checked':>9} {'passed':>9} {'failed':>9}",
        "-" * 64,
    ]
    for result in report.collections:
        for number, check in enumerate(CHECKS):
            tally = result.checks[check]
            name = result.name if number == 0 else ""
            mark = "  <-- FAILED" if tally.failed else ""
            lines.append(
                f"{name:<20} {check:<13} {tally.checked:>9,} {tally.passed:>9,} "
                f"{tally.failed:>9,}{mark}"
            )
    lines += [
        f"{result.name}: {result.rejected:,} source rows the run rejects, without a "
        "document as expected"
        for result in report.collections
        if result.rejected
    ]
    lines += ["", ("OK: " if report.ok else "FAILED: ") + _verdict(report)]
    shown = report.differences[:TEXT_DIFFERENCES]
    if shown:
        lines += ["", f"first {len(shown)} of {report.total_differences} differences:"]
    for item in shown:
        where = " ".join(
            part
            for part in (
                f"_id {item.id}" if item.id else "",
                f"key {item.key}" if item.key else "",
                f"at {item.path}" if item.path else "",
            )
            if part
        )
        lines.append(
            f"  [{item.collection}] {item.check}: {item.message}" + (f" ({where})" if where else "")
        )
        if item.expected or item.actual:
            lines.append(f"      expected {item.expected}")
            lines.append(f"      actual   {item.actual}")
    return "\n".join(lines)


def page(name: str, **values: object) -> str:
    """An HTML page from a template of `mapper/templates` (autoescaped, undefined names an
    error); the validation report's and `mapper init`'s."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("mapper", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(name).render(**values)


def html(report: Report) -> str:
    return page(
        "validate.html.j2",
        report=report,
        checks=CHECKS,
        verdict=_verdict(report),
        differences=report.differences[:HTML_DIFFERENCES],
        passed=sum(
            tally.passed for result in report.collections for tally in result.checks.values()
        ),
    )
