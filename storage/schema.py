"""Table definitions (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Values are serde bytes in binary columns, never JSON text: PostgreSQL's JSONB rejects NUL
characters that model output can contain. Only checkpoint metadata is JSON, because users filter
on it; the keys the tool filters on most (LangGraph's run id, our run and question ids) are
copied into indexed columns.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import BYTEA, JSONB

metadata = MetaData()

Binary = LargeBinary().with_variant(BYTEA(), "postgresql")
Json = JSON().with_variant(JSONB(), "postgresql")

# Metadata keys copied into their own indexed columns of `checkpoints`.
INDEXED_METADATA_KEYS: tuple[str, ...] = ("run_id", "reasonmed_run_id", "question_id")

schema_migrations = Table(
    "rm_schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", String(40), nullable=False),
)

checkpoints = Table(
    "rm_checkpoints",
    metadata,
    Column("thread_id", Text, primary_key=True),
    Column("checkpoint_ns", Text, primary_key=True, server_default=""),
    Column("checkpoint_id", Text, primary_key=True),
    Column("parent_checkpoint_id", Text),
    Column("type", Text, nullable=False),
    Column("checkpoint", Binary, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("run_id", Text),
    Column("reasonmed_run_id", Text),
    Column("question_id", Text),
)
Index("rm_checkpoints_run_id_idx", checkpoints.c.run_id)
Index("rm_checkpoints_question_idx", checkpoints.c.reasonmed_run_id, checkpoints.c.question_id)
Index(
    "rm_checkpoints_parent_idx",
    checkpoints.c.thread_id,
    checkpoints.c.checkpoint_ns,
    checkpoints.c.parent_checkpoint_id,
)

checkpoint_blobs = Table(
    "rm_checkpoint_blobs",
    metadata,
    Column("thread_id", Text, primary_key=True),
    Column("checkpoint_ns", Text, primary_key=True, server_default=""),
    Column("channel", Text, primary_key=True),
    Column("version", Text, primary_key=True),
    Column("type", Text, nullable=False),
    Column("blob", Binary),
)

checkpoint_writes = Table(
    "rm_checkpoint_writes",
    metadata,
    Column("thread_id", Text, primary_key=True),
    Column("checkpoint_ns", Text, primary_key=True, server_default=""),
    Column("checkpoint_id", Text, primary_key=True),
    Column("task_id", Text, primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("task_path", Text, nullable=False, server_default=""),
    Column("channel", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("blob", Binary),
)

CHECKPOINT_TABLES = (checkpoints, checkpoint_blobs, checkpoint_writes)
