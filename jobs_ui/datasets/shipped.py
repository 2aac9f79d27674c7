"""The datasets shipped with the app: contacts and products."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import Column, Numeric
from sqlmodel import Field

from jobs_ui.datasets.fields import RowFields, about
from jobs_ui.datasets.registry import registry

# Deliberately simple: one @, no spaces, a dot in the domain. Full RFC parsing per row costs
# more than the rest of the import, and mail servers have the last word anyway.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"


class ContactFields(RowFields):
    name: str = Field(
        min_length=1,
        max_length=200,
        description="the contact's name",
        schema_extra=about(
            aliases=("full name", "contact name", "contact", "person", "customer name"),
            example="Grace Hopper",
        ),
    )
    # Checked and lowered by pydantic's own regex engine: no Python call per row. (The
    # pattern goes in StringConstraints: SQLModel's Field(regex=...) does not reach pydantic.)
    email: Annotated[
        str, StringConstraints(min_length=1, max_length=254, pattern=EMAIL_PATTERN, to_lower=True)
    ] = Field(
        description="email address",
        schema_extra=about(
            aliases=("e-mail address", "email address", "mail", "e-mail", "email id"),
            example="grace@example.com",
        ),
    )
    company: str | None = Field(
        default=None,
        max_length=200,
        description="the organisation the contact works for",
        schema_extra=about(
            aliases=("organisation", "organization", "company name", "employer", "account"),
            example="Remington Rand",
        ),
    )
    phone: str | None = Field(
        default=None,
        max_length=50,
        description="phone number, as written",
        schema_extra=about(
            aliases=("phone number", "tel", "telephone", "mobile", "cell", "phone no"),
            example="+44 20 7946 0000",
        ),
    )


class Contact(ContactFields, table=True):
    __tablename__ = "contacts"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)


class ProductFields(RowFields):
    sku: str = Field(
        min_length=1,
        max_length=64,
        description="the product's unique stock-keeping code",
        schema_extra=about(
            aliases=("product code", "item code", "article number", "part number", "code"),
            example="BOLT-M8-40",
        ),
    )
    name: str = Field(
        min_length=1,
        max_length=200,
        description="the product's name",
        schema_extra=about(
            aliases=("product name", "product", "item", "title", "description"),
            example="Hex bolt M8 x 40",
        ),
    )
    price: Decimal = Field(
        ge=0,
        max_digits=12,
        decimal_places=2,
        description="unit price, at most 2 decimals",
        schema_extra=about(aliases=("unit price", "cost", "amount", "price each"), example="0.35"),
    )
    stock: int = Field(
        ge=0,
        le=2**31 - 1,  # an INTEGER column in every database
        description="units in stock, a whole number",
        schema_extra=about(
            aliases=("quantity", "qty", "on hand", "inventory", "units", "stock level"),
            example=1200,
        ),
    )


class Product(ProductFields, table=True):
    __tablename__ = "products"

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, unique=True)
    price: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))


registry.register("contacts", fields=ContactFields, table=Contact, key="email")
registry.register("products", fields=ProductFields, table=Product, key="sku")
