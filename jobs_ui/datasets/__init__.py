"""What can be imported and exported: the registry, and the datasets shipped with the app.

Importing this package registers the shipped datasets (contacts and products), so every
process that reads the registry (backend, worker, migrations) sees the same ones.
"""

from jobs_ui.datasets import shipped
from jobs_ui.datasets.fields import FieldSpec, RowFields, about
from jobs_ui.datasets.registry import Dataset, DatasetRegistry, UnknownDatasetError, registry

register = registry.register

__all__ = [
    "Dataset",
    "DatasetRegistry",
    "FieldSpec",
    "RowFields",
    "UnknownDatasetError",
    "about",
    "register",
    "registry",
    "shipped",
]
