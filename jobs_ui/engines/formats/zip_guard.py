"""Refusing a workbook that unpacks to too much, from its zip directory alone (zip bombs)."""

from __future__ import annotations

import zipfile
from typing import IO

from jobs_ui.engines.formats.rows import UnreadableFileError
from jobs_ui.engines.limits import ContentTooLarge, refuse_oversized_parts

# openpyxl loads a workbook's shared strings whole; a tiny zip can unpack to gigabytes.
MAX_UNPACKED_XML_BYTES = 512 * 1024 * 1024


def refuse_zip_bombs(file: IO[bytes]) -> None:
    """Refuse a workbook that unpacks to too much in total, or in any one part (see
    `refuse_oversized_parts`), from the sizes in the zip's directory: nothing is unpacked."""
    with zipfile.ZipFile(file) as archive:
        unpacked = sum(entry.file_size for entry in archive.infolist())
        if unpacked > MAX_UNPACKED_XML_BYTES:
            raise UnreadableFileError(
                f"This workbook unpacks to {unpacked / 1024 / 1024:,.0f} MB, more than the "
                f"{MAX_UNPACKED_XML_BYTES / 1024 / 1024:,.0f} MB this app reads. "
                "Save it as CSV and upload that instead."
            )
        try:
            refuse_oversized_parts(archive)
        except ContentTooLarge as err:
            raise UnreadableFileError(str(err)) from err
    file.seek(0)
