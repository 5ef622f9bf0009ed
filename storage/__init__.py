"""Persistence: engines, schema and migrations, the checkpoint saver, and run bookkeeping."""

from reasonmed.storage.saver import SQLAlchemySaver

__all__ = ["SQLAlchemySaver"]
