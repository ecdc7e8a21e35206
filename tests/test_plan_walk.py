"""`plan.walk`, the one walk over a document shape, and `plan.by_kind`, dispatch by shape kind."""

import pytest

from mapper import plan as p

QUERY = p.Query("comments", "c0", (), ())
NAME = p.Value(("name",), 0, "string", False)
CITY = p.Value(("city",), 2, "string", False)
TEXT = p.Value(("text",), 0, "string", False)
COMMENTS = p.Children(("comments",), QUERY, (0,), p.SubDocument((), (TEXT,)))
TAGS = p.Children(("tags",), QUERY, (0,), p.DocumentId((), "oid", "tags", ("id",), (1,)))
DEEPER = p.Children(("parent",), QUERY, (0,), p.SubDocument((), ()))
GUARD = p.DepthGuard(("parent",), "reject", deeper=DEEPER)
ADDRESS = p.SubDocument(("address",), (CITY, COMMENTS), present_index=1)
DOCUMENT = p.SubDocument((), (NAME, ADDRESS, TAGS, GUARD))


def test_walk_yields_fields_depth_first_with_array_elements_under_a_star():
    assert [(place.path, place.field) for place in p.walk(DOCUMENT)] == [
        (("name",), NAME),
        (("address",), ADDRESS),
        (("address", "city"), CITY),
        (("address", "comments"), COMMENTS),
        (("address", "comments", "*", "text"), TEXT),
        (("tags",), TAGS),
        (("tags", "*"), TAGS.element),
        (("parent",), GUARD),
    ]


def test_walk_tells_the_array_whose_rows_build_a_field_and_what_makes_it_absent():
    places = {place.path: place for place in p.walk(DOCUMENT)}
    assert places[("address", "city")].array is None
    assert places[("address", "city")].present == (1,)
    assert places[("address", "comments", "*", "text")].array is COMMENTS
    assert places[("address", "comments", "*", "text")].present == ()


def test_walk_of_one_row_leaves_arrays_and_with_guards_adds_their_deeper_rows():
    row = [place.field for place in p.walk(DOCUMENT, arrays=False)]
    assert TEXT not in row and TAGS.element not in row
    assert p.children_of(DOCUMENT) == (COMMENTS, TAGS)
    assert p.children_of(DOCUMENT, guards=True) == (COMMENTS, TAGS, DEEPER)


def test_by_kind_refuses_a_table_that_misses_a_kind():
    with pytest.raises(TypeError, match="missing: DepthGuard"):
        p.by_kind({kind: str for kind in p.SHAPES if kind is not p.DepthGuard})
    describe = p.by_kind({kind: lambda field, kind=kind: kind.__name__ for kind in p.SHAPES})
    assert describe(GUARD) == "DepthGuard"
