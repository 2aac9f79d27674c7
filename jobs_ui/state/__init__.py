"""Reflex states shared by the pages: the visitor, and following one job (useJobStatus)."""
