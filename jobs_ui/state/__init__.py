"""Reflex states shared by the pages: following one job (useJobStatus), the backend."""
