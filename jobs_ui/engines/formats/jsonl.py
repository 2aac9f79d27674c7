"""JSON Lines: one JSON object per line, UTF-8."""

from __future__ import annotations

import codecs
import functools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from jobs_ui.engines.formats.base import ByteProgress, ReaderBase, is_blank_cell
from jobs_ui.engines.formats.encodings import (
    check_text_sample,
    decode_error_message,
    decode_sample,
    read_sample,
)
from jobs_ui.engines.formats.rows import EMPTY, NOT_TEXT, NamesFor, RawRow, UnreadableFileError
from jobs_ui.engines.limits import FileLimits, line_content_bytes, line_too_long

TOO_DEEP = "Line nests its values too deeply to read; a row's fields are text and numbers."
NOT_UNICODE = (
    "Line has text that is not Unicode (a \\u escape of half a character pair); "
    "fix the text and upload again."
)
# An escape of a UTF-16 surrogate: half of a pair, or alone. Alone, json.loads makes a
# string no database, report or page can encode (found by fuzzing).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(text: str, record: object) -> bool:
    """Whether the parsed line holds half a surrogate pair (looked for only when the line
    has an escape of one, which pairs for emoji and the like are)."""
    if _SURROGATE_ESCAPE.search(text) is None:
        return False
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first_object_keys(text: str) -> list[str]:
    """Keys of the first JSON object in the sample, so `columns` is known before iterating."""
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            continue
        if isinstance(record, dict) and not _lone_surrogate(line, record):
            return list(record)
    return []


class JsonLinesReader(ReaderBase):
    """One JSON object per line, UTF-8.

    A line longer than `max_line_bytes` fails the file, as a CSV row does (one rule for
    both): such a line is a document that is not JSON Lines, or made to exhaust memory.
    An object with more than `max_columns` keys is skipped with a reason (it is already
    parsed, at most a line long, and the next line is unaffected); keys are also capped
    across the file, since every new one becomes a column the reader remembers.
    """

    def __init__(self, path: Path, limits: FileLimits) -> None:
        binary = path.open("rb")
        try:
            sample, size, complete = read_sample(binary)
            if size == 0:
                raise UnreadableFileError(EMPTY)
            if b"\x00" in sample:
                raise UnreadableFileError(NOT_TEXT)
            bom = len(codecs.BOM_UTF8) if sample.startswith(codecs.BOM_UTF8) else 0
            text = decode_sample(sample[bom:], "utf-8", complete)
            if text is None:
                raise UnreadableFileError(_first_decode_error(sample, bom))
            check_text_sample(text, complete)
            binary.seek(bom)
        except BaseException:
            binary.close()
            raise
        self._binary = binary
        self._limits = limits
        self.encoding = "utf-8"  # JSON text is UTF-8 (RFC 8259)
        self._progress = ByteProgress(binary, size)
        first_keys = _first_object_keys(text)
        # Too many: that line is reported as it is read, and none of them become columns.
        self._columns = first_keys if len(first_keys) <= limits.max_columns else []
        self._known = set(self._columns)
        self._names_for: NamesFor | None = None
        self._names_by_keys: dict[tuple[str, ...], Mapping[str, str]] = {}

    def fraction_read(self) -> float:
        return self._progress.fraction()

    def close(self) -> None:
        self._binary.close()

    def __iter__(self) -> Iterator[RawRow]:
        known = self._known
        limit = self._limits.max_line_bytes
        max_keys = self._limits.max_columns
        # readline with a size never holds more than that of a line: a longer one comes in
        # pieces, and the first piece already tells (the 2 leave room for a CRLF).
        lines = iter(functools.partial(self._binary.readline, limit + 2), b"")
        for number, line in enumerate(lines, start=1):
            if len(line) > limit and line_content_bytes(line) > limit:
                raise UnreadableFileError(line_too_long(number, limit))
            if line.isspace():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as err:
                offset = self._binary.tell() - len(line) + err.start
                raise UnreadableFileError(decode_error_message("utf-8", offset)) from err
            try:
                record = json.loads(text)
            except ValueError as err:
                yield RawRow(number, {}, _json_problem(err))
                continue
            except RecursionError:  # a value nested thousands deep: no row is like that
                yield RawRow(number, {}, TOO_DEEP)
                continue
            if type(record) is not dict:
                yield RawRow(number, {}, "Line is not a JSON object.")
                continue
            if _lone_surrogate(text, record):
                yield RawRow(number, {}, NOT_UNICODE)
                continue
            if len(record) > max_keys:
                problem = (
                    f"Line has {len(record):,} keys, more than the {max_keys:,} this app reads."
                )
                yield RawRow(number, {}, problem)
                continue
            if not record.keys() <= known:
                self._add_columns(record, number)
            yield RawRow(number, self._renamed(record))

    def rename(self, names_for: NamesFor) -> None:
        # Each line names its own keys: ask once per distinct key set (files have few).
        self._names_for = names_for
        self._names_by_keys.clear()

    def _renamed(self, record: dict[str, object]) -> dict[str, object]:
        names_for = self._names_for
        if names_for is None:
            return {key: value for key, value in record.items() if not is_blank_cell(value)}
        keys = tuple(record)
        names = self._names_by_keys.get(keys)
        if names is None:
            if len(self._names_by_keys) >= _MAX_KEY_SETS:
                self._names_by_keys.clear()  # a file of ever new key orders: memory stays put
            names = self._names_by_keys[keys] = names_for(keys)
        return {
            names[key]: value
            for key, value in record.items()
            if key in names and not is_blank_cell(value)
        }

    def _add_columns(self, record: dict[str, object], number: int) -> None:
        new = [key for key in record if key not in self._known]
        max_columns = self._limits.max_columns
        if len(self._known) + len(new) > max_columns:
            raise UnreadableFileError(
                f"Line {number:,} brings the keys used in this file past the {max_columns:,} "
                "different ones this app reads. Each line should hold one record, with keys "
                "from the same few columns."
            )
        self._known.update(new)
        self._columns.extend(new)


_MAX_KEY_SETS = 256  # distinct key lists (in order) whose field names are remembered


def _first_decode_error(sample: bytes, start: int) -> str:
    """Message for a JSON Lines sample that is not UTF-8, pointing at the first bad byte."""
    try:
        sample[start:].decode("utf-8")
    except UnicodeDecodeError as err:
        return decode_error_message("utf-8", start + err.start)
    return NOT_TEXT


def _json_problem(err: ValueError) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"Line is not valid JSON: {err.msg} (column {err.colno})."
    return f"Line is not valid JSON: {err}."
