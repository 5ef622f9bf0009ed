"""Test databases: each PostgreSQL test gets a schema of its own, selected via search_path."""

from __future__ import annotations

import functools
import os
import uuid
from urllib.parse import quote

import psycopg

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def base_postgres_url() -> str:
    return os.environ.get("REASONMED_TEST_POSTGRES_URL", DEFAULT_PG_URL)


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@functools.cache
def postgres_available() -> bool:
    try:
        with psycopg.connect(_libpq_url(base_postgres_url()), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def fresh_postgres_url() -> tuple[str, str]:
    """Create an empty schema; return a URL whose connections use it, and its name."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_libpq_url(base_postgres_url()), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base_postgres_url() else "?"
    options = quote(f"-csearch_path={schema}")
    return f"{base_postgres_url()}{sep}options={options}", schema


def drop_postgres_schema(schema: str) -> None:
    with psycopg.connect(_libpq_url(base_postgres_url()), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
