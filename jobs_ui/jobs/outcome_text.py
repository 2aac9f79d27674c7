"""How a finished import, dry run or undo is said in words: the job's message and the page's
summary. Counts a mode cannot have are left out (an insert updates nothing, an update
creates nothing), so a sentence only says what could have happened."""

from __future__ import annotations

from typing import Any

from jobs_ui.models import Job


def rows(count: int) -> str:
    """ "1 row", "2,000 rows"."""
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def outcome_sentence(result: dict[str, Any], *, undo: bool = False) -> str:
    """ "Created 1, updated 2, unchanged 1, skipped 0"; "Created 3 rows, skipped 1" (insert);
    a dry run's "Would create ..."; an undo's "Deleted ..., restored ..."."""

    def count(name: str) -> int:
        return int(result.get(name, 0) or 0)

    if undo:
        text = f"Deleted {count('deletedCount'):,}, restored {count('restoredCount'):,}"
        conflicts = count("conflictCount")
        return f"{text}; {conflicts:,} changed since, left as they are" if conflicts else text
    mode, skipped = result.get("mode"), count("skippedCount")
    if result.get("dryRun"):
        if mode in (None, "insert"):
            text = f"Would create {rows(count('wouldCreate'))}"
            return f"{text}, skip {skipped:,}" if skipped else text
        made = f"create {count('wouldCreate'):,}, " if mode == "upsert" else ""
        return (
            f"Would {made}update {count('wouldUpdate'):,}; "
            f"{count('unchangedCount'):,} unchanged, {skipped:,} skipped"
        )
    if mode is None:  # a result from before imports had modes
        text = f"Imported {rows(count('importedCount'))}"
        return f"{text}, skipped {skipped:,}" if skipped else text
    if mode == "insert":
        text = f"Created {rows(count('createdCount'))}"
        return f"{text}, skipped {skipped:,}" if skipped else text
    made = f"Created {count('createdCount'):,}, updated" if mode == "upsert" else "Updated"
    return (
        f"{made} {count('updatedCount'):,}, unchanged {count('unchangedCount'):,}, "
        f"skipped {skipped:,}"
    )


def kind_label(job: Job) -> str:
    """ "Import", "Dry run", "Undo" or "Export": what the job did, in the list."""
    if job.undo_of is not None:
        return "Undo"
    if job.params.get("dryRun"):
        return "Dry run"
    return job.kind.value.capitalize()
