"""Table definitions (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Values are serde bytes in binary columns, never JSON text: PostgreSQL's JSONB rejects NUL
characters that model output can contain. Only checkpoint metadata is JSON, because users filter
on it; the keys the tool filters on most (LangGraph's run id, our run and question ids) are
copied into indexed columns.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
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

# Run bookkeeping (migration 2). Text that came from a model is stored with NUL characters
# stripped (PostgreSQL's TEXT and JSONB reject them); prompts keep them, compressed in binary.

runs = Table(
    "rm_runs",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("input_path", Text, nullable=False),
    Column("config", Json, nullable=False),  # the resolved config; secrets only as env var names
    Column("config_hash", Text, nullable=False),
    Column("prompt_hashes", Json, nullable=False),
    Column("status", Text, nullable=False),
    Column("history", Json, nullable=False),  # list of events: created, config changed...
)

questions = Table(
    "rm_questions",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("question_id", Text, primary_key=True),
    Column("position", Integer, nullable=False),  # order in the input file
    Column("thread_id", Text, nullable=False),
    Column("question", Json, nullable=False),  # Question.model_dump()
    Column("fingerprint", Text, nullable=False),
    Column("status", Text, nullable=False),  # pending | running | done | rejected | failed
    Column("tier", Text),
    Column("errors", Integer),
    Column("reason", Text, nullable=False, server_default=""),
    Column("examples", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("updated_at", String(40), nullable=False),
    # Migration 3: why a failed question failed, typed (node, agent, alias, model, error kind,
    # error, attempts), next to the one-line `reason`.
    Column("failure", Json),
)
Index("rm_questions_status_idx", questions.c.run_id, questions.c.status)
Index("rm_questions_position_idx", questions.c.run_id, questions.c.position)

llm_calls = Table(
    "rm_llm_calls",
    metadata,
    # BIGSERIAL on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is an autoincrementing rowid.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", Text, nullable=False),
    Column("question_id", Text, nullable=False),
    Column("thread_id", Text, nullable=False),
    Column("node", Text, nullable=False),
    Column("agent", Text, nullable=False),
    Column("alias", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("sampling", Json, nullable=False),
    Column("template_hash", Text, nullable=False),
    Column("messages_type", Text, nullable=False),  # codec tag, see codec.pack
    Column("messages", Binary, nullable=False),  # JSON of the rendered messages, maybe zstd
    Column("reply", Text),
    Column("parsed", Json),
    Column("error", Text),
    Column("retries", Integer, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("finish_reason", Text),
    Column("cache_hit", Boolean, nullable=False),
    Column("request_key", Text),
    Column("extra", Json),
    Column("created_at", String(40), nullable=False),
    # Migration 3: what the call cost at the run's prices when it was made (None: no price
    # configured for the alias; 0 for a cache hit), so totals survive resumes and price changes.
    Column("cost", Float),
)
Index("rm_llm_calls_question_idx", llm_calls.c.run_id, llm_calls.c.question_id)
Index("rm_llm_calls_agent_idx", llm_calls.c.run_id, llm_calls.c.agent)
Index("rm_llm_calls_request_idx", llm_calls.c.request_key)

examples = Table(
    "rm_examples",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("question_id", Text, primary_key=True),
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("tier", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column("cot", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("instruction", Text, nullable=False),
    Column("input", Text, nullable=False),
    Column("provenance", Json, nullable=False),
    Column("created_at", String(40), nullable=False),
)

BOOKKEEPING_TABLES = (runs, questions, llm_calls, examples)

# Evaluations (migration 4): `reasonmed eval score` and `eval accuracy`. An eval records the
# config (secrets only as env var names) and prompt hashes it ran with; each item's result is
# stored as soon as it is known, so rerunning the same command continues without new calls.

evals = Table(
    "rm_evals",
    metadata,
    Column("eval_id", Text, primary_key=True),
    Column("kind", Text, nullable=False),  # score | accuracy
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("params", Json, nullable=False),  # what defines the eval (model, inputs, sample, seed)
    Column("config", Json, nullable=False),
    Column("config_hash", Text, nullable=False),
    Column("prompt_hashes", Json, nullable=False),
    Column("status", Text, nullable=False),  # running | complete | incomplete
)

eval_items = Table(
    "rm_eval_items",
    metadata,
    Column("eval_id", Text, primary_key=True),
    Column("item_id", Text, primary_key=True),
    Column("position", Integer, nullable=False),  # order in the eval's input
    Column("input", Json, nullable=False),
    Column("result", Json, nullable=False),
    Column("call_id", BigInteger),  # the deciding call in rm_llm_calls; None if never sent
    Column("created_at", String(40), nullable=False),
)
Index("rm_eval_items_position_idx", eval_items.c.eval_id, eval_items.c.position)

EVAL_TABLES = (evals, eval_items)
