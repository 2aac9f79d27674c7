"""The datasets shipped with the app: contacts and products."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import Column, Numeric
from sqlmodel import Field

from jobs_ui.datasets.fields import RowFields
from jobs_ui.datasets.registry import registry

# Deliberately simple: one @, no spaces, a dot in the domain. Full RFC parsing per row costs
# more than the rest of the import, and mail servers have the last word anyway.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"


class ContactFields(RowFields):
    name: str = Field(min_length=1, max_length=200)
    # Checked and lowered by pydantic's own regex engine: no Python call per row. (The
    # pattern goes in StringConstraints: SQLModel's Field(regex=...) does not reach pydantic.)
    email: Annotated[
        str, StringConstraints(min_length=1, max_length=254, pattern=EMAIL_PATTERN, to_lower=True)
    ] = Field(description="email address")
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)


class Contact(ContactFields, table=True):
    __tablename__ = "contacts"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)


class ProductFields(RowFields):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    stock: int = Field(ge=0)


class Product(ProductFields, table=True):
    __tablename__ = "products"

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, unique=True)
    price: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))


registry.register("contacts", fields=ContactFields, table=Contact, key="email")
registry.register("products", fields=ProductFields, table=Product, key="sku")
