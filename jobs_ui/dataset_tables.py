"""The datasets shipped with the app: contacts and products."""

from __future__ import annotations

import re
from decimal import Decimal

from pydantic import ConfigDict, field_validator
from sqlalchemy import Column, Numeric
from sqlmodel import Field, SQLModel

from jobs_ui.datasets import registry

# Deliberately simple: one @, no spaces, a dot in the domain. Full RFC parsing per row costs
# more than the rest of the import, and mail servers have the last word anyway.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class RowFields(SQLModel):
    """Shared validation settings for imported rows."""

    # Spreadsheets and JSON hand over phone numbers and SKUs as numbers: take them as text.
    model_config = ConfigDict(str_strip_whitespace=True, coerce_numbers_to_str=True)  # type: ignore[assignment]


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class ContactFields(RowFields):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=1, max_length=254)
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        if not EMAIL_PATTERN.match(value):
            raise ValueError("not a valid email address")
        return value.lower()

    @field_validator("company", "phone", mode="before")
    @classmethod
    def _optional(cls, value: object) -> object:
        return _blank_to_none(value)


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
