"""The formula rules are one module, shared by the export writers and the import side."""

from __future__ import annotations

import jobs_ui.engines.formulas as formulas
import jobs_ui.engines.import_job as import_job
import jobs_ui.engines.records as records
import jobs_ui.engines.writers as writers


def test_export_and_import_share_one_set_of_rules() -> None:
    assert writers.neutralise_formula is formulas.neutralise_formula
    assert writers.FORMULA_PREFIXES is formulas.FORMULA_PREFIXES
    assert import_job.neutralise_formula is formulas.neutralise_formula
    assert records.restore_neutralised is formulas.restore_neutralised


def test_neutralise_and_restore_round_trip() -> None:
    for prefix in formulas.FORMULA_PREFIXES:
        text = prefix + "1+1"
        assert formulas.neutralise_formula(text) == "'" + text
        assert formulas.restore_neutralised(formulas.neutralise_formula(text)) == text
    assert formulas.neutralise_formula("plain") == "plain"
    assert formulas.restore_neutralised("'plain") == "'plain"
