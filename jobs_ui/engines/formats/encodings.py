"""Text files (CSV, JSON Lines): the sample read first, its encoding, and decode-error messages."""

from __future__ import annotations

import codecs
import os
import re
from typing import IO

from charset_normalizer import from_bytes
from charset_normalizer.utils import is_multi_byte_encoding

from jobs_ui.engines.formats.rows import EMPTY, NOT_TEXT, UnreadableFileError

SAMPLE_SIZE = 64 * 1024
"""Bytes read up front to detect the encoding and delimiter."""

_BOMS = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Control characters that never appear in real text files (tab, CR, LF and form feed do).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def read_sample(binary: IO[bytes]) -> tuple[bytes, int, bool]:
    """Return the first bytes, the file size, and whether those bytes are the whole file."""
    size = os.fstat(binary.fileno()).st_size
    sample = binary.read(SAMPLE_SIZE)
    return sample, size, len(sample) >= size


def decode_sample(sample: bytes, encoding: str, complete: bool) -> str | None:
    """Decode the sample, tolerating a character cut in half at its end; None if it fails."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except UnicodeDecodeError:
        return None


def check_text_sample(text: str | None, complete: bool) -> str:
    """Reject samples that are empty or are binary data that happened to decode."""
    if text is None:
        raise UnreadableFileError(NOT_TEXT)
    if complete and not text.strip():
        raise UnreadableFileError(EMPTY)
    if len(_CONTROL_CHARS.findall(text)) * 100 > len(text):
        raise UnreadableFileError(NOT_TEXT)
    return text


def _encoding_label(encoding: str) -> str:
    """A name for the encoding that people recognise from their editor's save dialog."""
    name = codecs.lookup(encoding).name
    if name.startswith("utf-8"):
        return "UTF-8"
    if name.startswith("cp125"):
        return f"Windows-{name[2:]}"
    return name.upper()


def decode_error_message(encoding: str, byte_offset: int) -> str:
    return (
        f"The file is not valid {_encoding_label(encoding)} text near byte {byte_offset:,}. "
        "Save it as UTF-8 (in Excel: CSV UTF-8) and upload it again."
    )


def detect_encoding(sample: bytes, complete: bool) -> str:
    """Pick the codec for a CSV file from its first bytes."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    if b"\x00" in sample:
        # UTF-16/32 text is full of NUL bytes. Other text holds one only as a control
        # character in a cell (our own export writes them, neutralised with a quote);
        # binary data fails the UTF-8 check here or the control-character count after.
        best = from_bytes(sample).best()
        if best is not None and best.encoding.startswith(("utf_16", "utf_32")):
            return best.encoding
        if decode_sample(sample, "utf-8", complete) is not None:
            return "utf-8"
        raise UnreadableFileError(NOT_TEXT)
    if decode_sample(sample, "utf-8", complete) is not None:
        return "utf-8"
    return _detect_legacy_encoding(sample)


def _detect_legacy_encoding(sample: bytes) -> str:
    """Guess a pre-Unicode encoding, preferring Windows-1252 when the evidence is tied.

    charset-normalizer cannot tell the Western single-byte code pages apart on typical
    data (it picks cp1250 or even cp1006 for plain French or German names), while
    Windows-1252 is what Excel writes in Western locales. So Windows-1252 wins unless it
    reads as noisier than the detector's pick, or the text is multi-byte (CJK and the like).
    """
    matches = from_bytes(sample)
    best = matches.best()
    # A guess with no language evidence (coherence 0) is noise on a few bytes, so it does not
    # count; among guesses with evidence, chaos (odd characters) decides.
    # `evidence` is the detector's pick when it counts, else None.
    evidence = best if best is not None and best.coherence > 0 else None
    if evidence is not None and is_multi_byte_encoding(evidence.encoding):
        return evidence.encoding
    western = next((match for match in matches if match.encoding == "cp1252"), None)
    prefer_western = evidence is None or (western is not None and western.chaos <= evidence.chaos)
    if prefer_western and decode_sample(sample, "cp1252", complete=True) is not None:
        return "cp1252"
    if best is None:
        raise UnreadableFileError(NOT_TEXT)
    return best.encoding
