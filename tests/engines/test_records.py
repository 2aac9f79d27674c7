"""From rows to records: header mapping, blank cells, and neutralised formulas undone."""

from __future__ import annotations

import pytest

from jobs_ui.datasets import registry
from jobs_ui.engines.formats import RawRow
from jobs_ui.engines.mapping import MappingError, checked_mapping, suggest_mapping
from jobs_ui.engines.records import records

CONTACTS = registry.get("contacts")


def test_headers_match_fields_ignoring_case_and_spaces_first_one_wins():
    mapping = suggest_mapping([" EMAIL ", "Name", "email", "notes"], CONTACTS)
    assert mapping == {"name": "Name", "email": " EMAIL ", "company": None, "phone": None}


def test_a_missing_required_column_is_named_with_what_is_expected():
    with pytest.raises(MappingError) as caught:
        checked_mapping(
            suggest_mapping(["name", "phone"], CONTACTS),
            ["name", "phone"],
            CONTACTS,
            suggested=True,
        )
    assert str(caught.value) == (
        'The file has no column for email. Its columns: "name", "phone". Map a column to '
        "each required field of contacts (name, email) and import again."
    )


@pytest.mark.parametrize("all_text", [True, False])
def test_plain_rows_are_their_own_records(all_text):
    rows = [RawRow(2, {"name": "Ann", "email": "a@x.io"}), RawRow(3, {"name": "Bo"})]
    assert records(rows, all_text=all_text) == [row.values for row in rows]


@pytest.mark.parametrize("all_text", [True, False])
def test_spaces_only_cells_are_blank_and_neutralised_formulas_come_back(all_text):
    rows = [
        RawRow(2, {"name": "Ann", "company": "   "}),
        RawRow(3, {"name": "'=1+1", "company": "O'Brien & Co", "phone": "'+44 1"}),
        RawRow(4, {"name": "'quoted"}),  # a quote before a non-formula stays
    ]
    assert records(rows, all_text=all_text) == [
        {"name": "Ann"},
        {"name": "=1+1", "company": "O'Brien & Co", "phone": "+44 1"},
        {"name": "'quoted"},
    ]


def test_a_spaces_only_cell_at_the_end_of_a_batch_is_found():
    rows = [RawRow(2, {"name": "Ann"}), RawRow(3, {"name": "Bo", "phone": " \t"})]
    assert records(rows, all_text=True) == [{"name": "Ann"}, {"name": "Bo"}]
