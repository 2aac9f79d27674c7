"""Matching a file's headers to a dataset's fields, with headers people really write."""

from __future__ import annotations

import pytest

from jobs_ui.datasets import registry
from jobs_ui.engines.mapping import (
    MappingError,
    checked_mapping,
    columns_to_fields,
    normalise,
    suggest_mapping,
)

CONTACTS = registry.get("contacts")
PRODUCTS = registry.get("products")


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("E-mail", "email"),
        ("  Full_Name ", "fullname"),
        ("Phone No.", "phoneno"),
        ("ÉMAIL", "émail"),
        ("\uff25\uff4d\uff41\uff49\uff4c", "email"),  # full-width letters (some spreadsheets)
        ("---", ""),
    ],
)
def test_normalising_drops_case_spaces_and_punctuation(name, normalised):
    assert normalise(name) == normalised


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # a CRM export: aliases
        (["Full Name", "E-mail", "Company", "Phone"], ["Full Name", "E-mail", "Company", "Phone"]),
        # the field names themselves, in any case and spacing
        (["EMAIL", " name ", "PHONE", "company"], [" name ", "EMAIL", "company", "PHONE"]),
        # HubSpot-style
        (["Contact name", "Email Address", "Company Name", "Phone Number"],
         ["Contact name", "Email Address", "Company Name", "Phone Number"]),
        # Salesforce-style with underscores
        (["Contact_Name", "Email_Address", "Organisation", "Tel"],
         ["Contact_Name", "Email_Address", "Organisation", "Tel"]),
        # typos: the fuzzy pass
        (["Full Nmae", "Emial", "Compnay", "Phone Nr"],
         ["Full Nmae", "Emial", "Compnay", "Phone Nr"]),
        # columns that feed nothing stay unused; a field with no column is None
        (["Name", "Email", "Notes", "Created At"], ["Name", "Email", None, None]),
    ],
)  # fmt: skip
def test_contacts_headers_people_write(headers, expected):
    mapping = suggest_mapping(headers, CONTACTS)
    assert [mapping[field] for field in CONTACTS.columns] == expected


def test_products_headers_people_write():
    headers = ["Item Code", "Product Name", "Unit Price", "Qty"]
    assert suggest_mapping(headers, PRODUCTS) == {
        "sku": "Item Code", "name": "Product Name", "price": "Unit Price", "stock": "Qty",
    }  # fmt: skip


def test_one_column_never_feeds_two_fields():
    # "Email" is email's own name and also close to nothing else; "Mail" is an alias of
    # email too, but email is taken: it stays unused rather than feeding another field.
    mapping = suggest_mapping(["Email", "Mail", "Name"], CONTACTS)
    assert mapping == {"name": "Name", "email": "Email", "company": None, "phone": None}
    assert len(set(filter(None, mapping.values()))) == 2


def test_an_exact_name_beats_an_alias_and_an_alias_beats_a_fuzzy_score():
    # "E-mail address" is an alias; "Email" is the field's own name: the name wins, even
    # though the alias comes first in the file.
    assert suggest_mapping(["E-mail address", "Email", "Name"], CONTACTS)["email"] == "Email"
    # "Phone number" (an alias) beats "Phnoe" (a typo, fuzzy).
    assert suggest_mapping(["Phnoe", "Phone number"], CONTACTS)["phone"] == "Phone number"


def test_short_unrelated_names_are_not_matched_fuzzily():
    mapping = suggest_mapping(["Game", "Id", "Mal"], CONTACTS)
    assert mapping == {"name": None, "email": None, "company": None, "phone": None}


def test_checked_mapping_fills_in_every_field_and_renames_columns():
    mapping = checked_mapping({"name": "Who", "email": "Mail"}, ["Who", "Mail", "X"], CONTACTS)
    assert mapping == {"name": "Who", "email": "Mail", "company": None, "phone": None}
    assert columns_to_fields(mapping) == {"Who": "name", "Mail": "email"}


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        ({"name": "Who", "email": "Nope"},
         'The mapping maps email to a column "Nope" that the file does not have. '
         'Its columns: "Who", "Mail".'),
        ({"name": "Who", "email": "Mail", "fax": "Who"},
         "The mapping names field fax that contacts does not have. "
         "Its fields: name, email, company, phone."),
        ({"name": "Who"},
         'Choose a column for the required field email: the file\'s columns are "Who", "Mail".'),
        ({"name": "Mail", "email": "Mail"},
         'The column "Mail" is mapped to both name and email; a column can feed one field.'),
        ({"name": ["Who"], "email": "Mail"},
         "The mapping of name must be a column's name or null."),
    ],
)  # fmt: skip
def test_a_mapping_that_cannot_work_says_exactly_why(chosen, message):
    with pytest.raises(MappingError) as caught:
        checked_mapping(chosen, ["Who", "Mail"], CONTACTS)
    assert str(caught.value) == message
