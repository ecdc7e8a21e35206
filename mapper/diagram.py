"""The plan's document trees drawn: a Mermaid flowchart (`plan --format mermaid`), and a
self-contained HTML page whose SVG mapper lays out itself (`plan --format html`: no script,
nothing fetched, so it opens offline and in any browser).

On the page each collection is a card listing its document's fields, indented by depth;
sub-documents and arrays are shaded bands around their fields, and each reference to another
collection is an arrow from its field to that collection's card, routed through the gaps
between the cards (an aligned grid, so the arrows never cross a card).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from mapper import plan as p
from mapper.outline import Node, outline, references
from mapper.validation.output import page

# --- Mermaid --------------------------------------------------------------------------------


def mermaid(plan: p.Plan) -> str:
    """A Mermaid flowchart: per collection a subgraph with a node per document, sub-document
    and array of documents (its plain fields listed in it), and a dotted edge per reference."""
    ids = references(plan)
    roots = {collection.name: f"c{number}" for number, collection in enumerate(plan.collections)}
    lines, links = ["flowchart LR"], []
    for collection in plan.collections:
        root = outline(collection, ids)
        lines.append(f'  subgraph {roots[root.name]}_box["{_escaped(root.name)}"]')
        for node, name, parent in _nested(root, roots[root.name]):
            lines.append(f"    {name}{_shape(node, root=not parent)}")
            if parent:
                lines.append(f"    {parent} --> {name}")
            links += [
                f"  {name} -.->|{_escaped(field.name)}| {roots[field.refers_to]}"
                for field in node.fields
                if field.refers_to is not None
            ]
        lines.append("  end")
    return "\n".join([*lines, *links]) + "\n"


def _nested(node: Node, name: str, parent: str = "") -> Iterator[tuple[Node, str, str]]:
    """(node, its Mermaid id, its parent's) for the node and each nested node under it."""
    yield node, name, parent
    for number, field in enumerate(field for field in node.fields if field.nested):
        yield from _nested(field, f"{name}_{number}", name)


def _shape(node: Node, root: bool) -> str:
    """A node's Mermaid shape and label: its name, then a line per plain field."""
    lines = [f"<b>{_escaped(node.name if root else _text(node))}</b>"]
    lines += [_escaped(_summary(field)) for field in node.fields if not field.nested]
    label = "<br/>".join(lines)
    return f'[["{label}"]]' if node.kind == "array" else f'["{label}"]'


def _escaped(text: str) -> str:
    """Text safe inside a Mermaid label (its entity codes for the characters it parses)."""
    codes = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "|": "#124;"}
    return "".join(codes.get(character, character) for character in text)


def _summary(node: Node) -> str:
    """A plain field in a few words: its name and type, or what its id is made of."""
    if node.kind in ("id", "id_array"):
        reference = f" → {node.refers_to}" if node.refers_to else ""
        return f"{node.name}: {node.detail}{reference}"
    if node.kind == "depth_guard":
        return f"{node.name}: not unfolded"
    return f"{node.name}: {node.type or node.detail}"


# --- The HTML page's SVG --------------------------------------------------------------------

CHARACTER = 7.9  # px: the width of a character of the 13 px monospace font
ROW = 20  # px: a field's row
PAD = 12  # px: inside a card, around its rows
INDENT = 16  # px: per level of nesting
LANE = 9  # px: between two arrows that share a gap
MAX_WIDTH = 1600  # px: cards are put in as many columns as fit


@dataclass(frozen=True)
class Row:
    x: float
    y: float
    text: str
    kind: str
    detail: str


@dataclass(frozen=True)
class Band:
    """The shading behind a sub-document's or an array's rows."""

    x: float
    y: float
    width: float
    height: float
    kind: str


@dataclass(frozen=True)
class Card:
    name: str
    table: str
    x: float
    y: float
    width: float
    height: float
    rows: tuple[Row, ...]
    bands: tuple[Band, ...]


@dataclass(frozen=True)
class Arrow:
    path: str  # SVG path data
    title: str


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    cards: tuple[Card, ...]
    arrows: tuple[Arrow, ...]


@dataclass(frozen=True)
class _Line:
    """A field's row in its card, before the card is placed."""

    node: Node
    path: str  # from the document's root, dotted
    depth: int
    last: int  # the number of the last row it spans (its own, or its last nested field's)


def html(plan: p.Plan) -> str:
    """A self-contained page drawing each collection's document tree and its references."""
    return page("plan.html.j2", drawing=drawing(plan), row_height=ROW, pad=PAD)


def drawing(plan: p.Plan) -> Drawing:
    """The diagram laid out: cards in an aligned grid, arrows routed between them."""
    ids = references(plan)
    trees = [outline(collection, ids) for collection in plan.collections]
    lines = {tree.name: list(_lines(tree)) for tree in trees}
    arrows = [
        _Reference(tree.name, number, line)
        for tree in trees
        for number, line in enumerate(lines[tree.name])
        if line.node.refers_to is not None
    ]
    widths = {tree.name: _card_width(tree, lines[tree.name]) for tree in trees}
    columns = _columns(list(widths.values()), len(arrows))
    grid = {tree.name: divmod(number, columns)[::-1] for number, tree in enumerate(trees)}
    column_widths = [
        max(width for name, width in widths.items() if grid[name][0] == column)
        for column in range(columns)
    ]
    row_heights = [
        max(_card_height(lines[name]) for name in grid if grid[name][1] == row)
        for row in range(max(row for _, row in grid.values()) + 1)
    ]
    gutter_lanes = Counter(grid[arrow.source][0] for arrow in arrows)  # leaving each column
    band_lanes = Counter(grid[arrow.target][1] for arrow in arrows)  # entering each row
    gutter = 2 * PAD + LANE * max(gutter_lanes.values(), default=0)
    bands = [2 * PAD + LANE * band_lanes[row] for row in range(len(row_heights))]
    lefts = [PAD + sum(column_widths[:column]) + gutter * column for column in range(columns)]
    tops = [sum(row_heights[:row]) + sum(bands[: row + 1]) for row in range(len(row_heights))]
    cards = {
        tree.name: _card(
            tree,
            lines[tree.name],
            lefts[grid[tree.name][0]],
            tops[grid[tree.name][1]],
            column_widths[grid[tree.name][0]],
        )
        for tree in trees
    }
    return Drawing(
        lefts[-1] + column_widths[-1] + gutter,
        tops[-1] + row_heights[-1] + PAD,
        tuple(cards.values()),
        tuple(_routed(arrows, cards, {name: bands[row] for name, (_, row) in grid.items()})),
    )


@dataclass(frozen=True)
class _Reference:
    """A field that refers to another collection: where its arrow starts."""

    source: str  # the collection whose card holds the field
    number: int  # the field's row in that card
    line: _Line

    @property
    def target(self) -> str:
        return self.line.node.refers_to or ""


def _routed(
    arrows: list[_Reference], cards: dict[str, Card], bands: dict[str, float]
) -> Iterator[Arrow]:
    """Each reference's arrow: right from its field into the gap after its card, its own lane
    there, up or down to its own lane in the band above the target's row of cards, across,
    and down onto the target's header. `bands` is the band's height above each card."""
    leaving: Counter[float] = Counter()  # arrows so far, by the gap (its x)
    entering: Counter[float] = Counter()  # by the band (its y), and by the target card
    landing: Counter[str] = Counter()
    for arrow in arrows:
        source, target = cards[arrow.source], cards[arrow.target]
        start_x, band = source.x + source.width, target.y - bands[arrow.target]
        gap_x = start_x + PAD + LANE * leaving[start_x]
        lane_y = band + PAD + LANE * entering[band]
        end_x = target.x + 2 * PAD + LANE * landing[arrow.target]
        leaving[start_x] += 1
        entering[band] += 1
        landing[arrow.target] += 1
        y = source.y + PAD + ROW * (arrow.number + 1.5)
        yield Arrow(
            f"M {start_x:.1f} {y:.1f} H {gap_x:.1f} V {lane_y:.1f} "
            f"H {end_x:.1f} V {target.y - 2:.1f}",
            f"{arrow.source}.{arrow.line.path} refers to {arrow.target}",
        )


def _lines(node: Node, prefix: str = "", depth: int = 0, first: int = 0) -> Iterator[_Line]:
    """The row of each field under `node`, depth first; `first` is the number of the first."""
    number = first
    for field in node.fields:
        path = f"{prefix}{field.name}"
        inner = list(_lines(field, f"{path}.", depth + 1, number + 1))
        yield _Line(field, path, depth, inner[-1].last if inner else number)
        yield from inner
        number += 1 + len(inner)


def _text(node: Node) -> str:
    """A row's text: the field's name and what it is."""
    if node.kind == "document":
        return f"{node.name} {{ }}"
    if node.kind == "array":
        return f"{node.name} [ ] {node.detail.replace('`', '')}"  # from TABLE, limit N
    return _summary(node)


def _card_width(tree: Node, lines: list[_Line]) -> float:
    title = len(tree.name) + len(tree.detail) + 2
    longest = max(
        [
            title * CHARACTER,
            *(INDENT * line.depth + CHARACTER * len(_text(line.node)) for line in lines),
        ]
    )
    return 2 * PAD + longest


def _columns(widths: list[float], arrows: int) -> int:
    """As many columns as fit in `MAX_WIDTH` (one at least), with the gaps between them that
    `arrows` need (about one lane per arrow, spread over the gaps)."""
    columns = len(widths)
    while columns > 1 and (
        sum(sorted(widths, reverse=True)[:columns]) + 2 * PAD * columns + LANE * arrows > MAX_WIDTH
    ):
        columns -= 1
    return columns


def _card(tree: Node, lines: list[_Line], x: float, y: float, width: float) -> Card:
    rows = tuple(
        Row(
            x + PAD + INDENT * line.depth,
            y + PAD + ROW * (number + 1.5),
            _text(line.node),
            "reference" if line.node.refers_to else line.node.kind,
            line.node.detail,
        )
        for number, line in enumerate(lines)
    )
    bands = tuple(
        Band(
            x + PAD / 2 + INDENT * line.depth,
            y + PAD + ROW * (number + 1),
            width - PAD - INDENT * line.depth,
            ROW * (line.last - number + 1),
            line.node.kind,
        )
        for number, line in enumerate(lines)
        if line.node.nested
    )
    return Card(tree.name, tree.table or "", x, y, width, _card_height(lines), rows, bands)


def _card_height(lines: list[_Line]) -> float:
    return 2 * PAD + ROW * (len(lines) + 1)
