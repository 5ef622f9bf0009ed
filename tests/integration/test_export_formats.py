"""`reasonmed export` formats, filters, splits, the HF dataset and the Hub upload, on a real run.

One run per module against the mock endpoint, made through the CLI: the first 24 sample
questions (exported with splits right then, through the Python API), then the whole file on the
same run id, so the run grows by 17 questions. Every JSONL format is read back with
`datasets.load_dataset("json")`, the `--hf` directory with `load_from_disk` and as Parquet, the
card's numbers are compared with `reasonmed status --json`, and the upload goes to a local
stand-in for the Hub (`HF_ENDPOINT`) with a canary token that must appear in no file and no log.
Nothing touches the network or the user's Hugging Face cache (offline, tmp `HF_HOME`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reasonmed.core.question import Question
from reasonmed.exports.dataset_export import ExportRequest, export_dataset
from reasonmed.exports.hf_dataset import features_of
from reasonmed.exports.jsonl_export import export_examples
from reasonmed.exports.record_formats import RecordStyle
from reasonmed.exports.record_schema import record_spec
from reasonmed.exports.splits import SplitSpec, share
from reasonmed.mockserver.process import MockServerProcess
from reasonmed.storage import export_reads
from reasonmed.storage.db import Database
from reasonmed.storage.examples import examples_from_state
from reasonmed.storage.export_reads import ExampleFilter, export_rows
from reasonmed.storage.runs import RunStore
from tests.support.cli import CLI, mock_sets, reasonmed
from tests.support.hub_server import HubStandIn
from tests.support.pipeline import MOCK_CONFIG, QUESTIONS, ROOT, query

RUN = "grow"
SPLITS = (SplitSpec("validation", 0.2), SplitSpec("test", 0.1))
SPLIT_ARGS = ("--split", "validation=0.2", "--split", "test=0.1")
CANARY = "hf_CANARYcanary0123456789token"
PRICES = [
    "--set",
    "models.qwen72b.price_input_per_mtok=2.5",
    "--set",
    "models.qwen72b.price_output_per_mtok=10",
]


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Offline, with a Hugging Face home of the module's own (set before `datasets` loads)."""
    home = tmp_path_factory.mktemp("hf_home")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (
            ("HF_DATASETS_OFFLINE", "1"),
            ("HF_HUB_OFFLINE", "1"),
            ("HF_HOME", str(home)),
            ("HF_DATASETS_CACHE", str(home / "datasets")),
            ("HF_HUB_DISABLE_TELEMETRY", "1"),
        ):
            mp.setenv(name, value)
        mp.delenv("HF_TOKEN", raising=False)
        yield home


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, hf_home: Path) -> dict[str, Any]:
    """The grown run's database, and the split each question had before it grew."""
    tmp = tmp_path_factory.mktemp("export_formats")
    questions = tmp / "questions.jsonl"
    lines = QUESTIONS.read_text().splitlines(keepends=True)
    db = f"sqlite:///{tmp / 'run.db'}"
    before: dict[str, Any] = {}
    with MockServerProcess(answer_key=QUESTIONS) as mock:
        for size in (24, len(lines)):
            questions.write_text("".join(lines[:size]))
            done = reasonmed(
                "run",
                str(questions),
                "--config",
                str(MOCK_CONFIG),
                "--db",
                db,
                "--run-id",
                RUN,
                *mock_sets(mock),
                *PRICES,
            )
            assert done.returncode == 0, done.stderr
            if not before:
                before = split_export(db, tmp / "before")
    return {"db": db, "tmp": tmp, "before": before}


def split_export(db_url: str, out: Path, seed: int = 5) -> dict[str, Any]:
    db = Database.from_url(db_url)
    try:
        request = ExportRequest(
            RUN, style=RecordStyle(format="messages"), out=out, splits=SPLITS, seed=seed
        )
        summary = export_dataset(db, request)
    finally:
        db.close()
    return {"splits": splits_of(out), "top_ups": summary.top_ups}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def splits_of(directory: Path) -> dict[str, str]:
    """question id -> split, from a split export's files (each question in exactly one)."""
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for record in read_jsonl(path):
            qid = record["metadata"]["question_id"]
            assert seen.setdefault(qid, path.stem) == path.stem, f"{qid} in two splits"
    return seen


def export(run: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return reasonmed("export", "--run-id", RUN, "--db", run["db"], *args)


def load_json(path: Path, hf_home: Path) -> Any:
    import datasets

    return datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(hf_home / "datasets")
    )


def done_examples(run: dict[str, Any], where: str = "") -> int:
    sql = (
        "SELECT count(*) FROM rm_examples e JOIN rm_questions q USING (run_id, question_id)"
        f" WHERE q.run_id = '{RUN}' AND q.status = 'done' {where}"
    )
    return query(run["db"], sql)[0][0]


def test_default_export_is_the_original_byte_for_byte(run: dict[str, Any]) -> None:
    out = run["tmp"] / "cli.jsonl"
    assert export(run, "--out", str(out)).returncode == 0
    explicit = run["tmp"] / "explicit.jsonl"
    assert export(run, "--format", "alpaca", "--out", str(explicit)).returncode == 0
    db = Database.from_url(run["db"])
    try:
        export_examples(db, RUN, "reasonmed", run["tmp"] / "original.jsonl")
    finally:
        db.close()
    original = (run["tmp"] / "original.jsonl").read_bytes()
    assert out.read_bytes() == original == explicit.read_bytes()
    assert len(original.splitlines()) == done_examples(run) > 40


@pytest.mark.parametrize(
    "options",
    [
        ("--format", "messages"),
        ("--format", "messages", "--reasoning-field", "--system-prompt", "You are a physician."),
        ("--format", "sharegpt", "--system-prompt", "You are a physician."),
        ("--format", "o1"),
        ("--format", "think"),
        ("--format", "messages", "--variant", "cotmed", "--no-metadata"),
    ],
    ids=lambda o: "-".join(a.strip("-") for a in o if a.startswith("--")),
)
def test_each_format_loads_with_datasets(
    run: dict[str, Any], hf_home: Path, options: tuple[str, ...]
) -> None:
    out = run["tmp"] / f"{'-'.join(options).replace(' ', '_')}.jsonl"
    assert export(run, *options, "--out", str(out)).returncode == 0
    ds = load_json(out, hf_home)
    style = RecordStyle(
        format=options[1],  # type: ignore[arg-type]
        variant="cotmed" if "cotmed" in options else "reasonmed",
        system_prompt="x" if "--system-prompt" in options else "",
        metadata="--no-metadata" not in options,
        reasoning_field="--reasoning-field" in options,
    )
    assert ds.features == features_of(record_spec(style))
    assert ds.num_rows == done_examples(run)


def test_messages_are_trl_conversational(run: dict[str, Any], hf_home: Path) -> None:
    """No tokenizer with a chat template ships with an installed package here, so the records
    are checked against TRL's documented conversational format (and its `is_conversational`
    test): a `messages` list of {role, content}, roles system / user / assistant."""
    out = run["tmp"] / "trl.jsonl"
    assert (
        export(
            run, "--format", "messages", "--system-prompt", "Be careful.", "--out", str(out)
        ).returncode
        == 0
    )
    for example in load_json(out, hf_home):
        messages = example["messages"]
        assert isinstance(messages, list) and all({"role", "content"} <= set(m) for m in messages)
        assert [m["role"] for m in messages] == ["system", "user", "assistant"]
        assert all(isinstance(m["content"], str) and m["content"] for m in messages)
        gold = example["metadata"]["answer"]
        assert f"\n{gold}. " in messages[1]["content"]  # the options are in the user turn


def test_sharegpt_is_llama_factory_sharegpt(run: dict[str, Any]) -> None:
    out = run["tmp"] / "sharegpt.jsonl"
    assert export(run, "--format", "sharegpt", "--out", str(out)).returncode == 0
    for record in read_jsonl(out):
        assert [t["from"] for t in record["conversations"]] == ["human", "gpt"]
        assert set(record) == {"conversations", "metadata"}


def test_filters(run: dict[str, Any], hf_home: Path) -> None:
    out = run["tmp"] / "easy-generated.jsonl"
    done = export(
        run,
        "--format",
        "o1",
        "--filter",
        "tier=easy,medium",
        "--filter",
        "origin=generated",
        "--filter",
        "source=clinical-vignette",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(out)
    assert {(r["metadata"]["origin"], r["metadata"]["source"]) for r in records} == {
        ("generated", "clinical-vignette")
    }
    assert {r["metadata"]["tier"] for r in records} <= {"easy", "medium"}
    where = (
        "AND e.origin = 'generated' AND e.tier IN ('easy', 'medium') AND "
        "json_extract(q.question, '$.source') = 'clinical-vignette'"
    )
    assert 0 < len(records) == done_examples(run, where)
    missing = run["tmp"] / "missing.jsonl"
    for bad, message in (
        ("source=medqa", "'medqa' not in run 'grow'; its sources:"),
        ("model=gpt5", "'gpt5' not in run"),
        ("tier=hard", "unknown tier"),
    ):
        refused = export(run, "--filter", bad, "--out", str(missing))
        assert refused.returncode == 2 and message in " ".join(refused.stderr.split())
        assert not missing.exists()


def test_splits_are_seeded_grouped_and_stratified(run: dict[str, Any]) -> None:
    first, again, other = (run["tmp"] / name for name in ("s1", "s2", "s3"))
    for out, seed in ((first, "5"), (again, "5"), (other, "6")):
        done = export(run, "--format", "messages", *SPLIT_ARGS, "--seed", seed, "--out", str(out))
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in first.iterdir()) == [
        "test.jsonl",
        "train.jsonl",
        "validation.jsonl",
    ]
    for name in ("train", "validation", "test"):
        assert (first / f"{name}.jsonl").read_bytes() == (again / f"{name}.jsonl").read_bytes()
    assignment = splits_of(first)  # asserts no question is in two splits
    assert assignment != splits_of(other)
    assert (
        len(assignment)
        == query(
            run["db"],
            f"SELECT count(*) FROM rm_questions WHERE run_id = '{RUN}' AND status = 'done'",
        )[0][0]
    )
    strata: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for path in first.glob("*.jsonl"):
        for meta in {
            r["metadata"]["question_id"]: r["metadata"] for r in read_jsonl(path)
        }.values():
            strata[meta["source"], meta["tier"]][path.stem] += 1
    for stratum, counts in strata.items():
        n = sum(counts.values())
        for spec in SPLITS:  # every stratum that can spare them holds its share
            if share(n, spec.fraction) >= 1 and n >= 1 + len(SPLITS):
                assert counts[spec.name] >= 1, (stratum, counts)


def test_only_new_questions_move_when_the_run_grows(run: dict[str, Any]) -> None:
    before = run["before"]
    after = split_export(run["db"], run["tmp"] / "after")
    new = set(after["splits"]) - set(before["splits"])
    assert len(new) >= 10 and set(before["splits"]) < set(after["splits"])
    moved = {q for q, split in before["splits"].items() if after["splits"][q] != split}
    # Questions placed by their hash band never move; only small-stratum top-ups (before or
    # after the growth) can.
    assert moved <= before["top_ups"] | after["top_ups"]
    assert len(moved) <= len(before["top_ups"] | after["top_ups"]) < len(before["splits"]) / 4


def test_hf_directory_and_card(run: dict[str, Any], hf_home: Path) -> None:
    import datasets
    from huggingface_hub import DatasetCard

    target, report = run["tmp"] / "hf", run["tmp"] / "drops.jsonl"
    report.write_text(
        '{"reason": "duplicate"}\n{"reason": "duplicate"}\n{"reason": "contaminated"}\n'
    )
    jsonl = run["tmp"] / "hf-jsonl"
    done = export(
        run,
        "--format",
        "messages",
        "--reasoning-field",
        *SPLIT_ARGS,
        "--seed",
        "5",
        "--hf",
        str(target),
        "--out",
        str(jsonl),
        "--license",
        "cc-by-4.0",
        "--import-report",
        str(report),
    )
    assert done.returncode == 0, done.stderr
    features = features_of(record_spec(RecordStyle(format="messages", reasoning_field=True)))
    saved = datasets.load_from_disk(str(target))
    assert list(saved) == ["train", "validation", "test"]
    for name, split in saved.items():
        assert split.features == features
        assert split.num_rows == len(read_jsonl(jsonl / f"{name}.jsonl"))
        parquet = datasets.load_dataset(
            "parquet",
            data_files=str(target / "data" / f"{name}-*.parquet"),
            split="train",
            cache_dir=str(hf_home / "datasets"),
        )
        assert parquet.features == features and parquet.num_rows == split.num_rows
    card = DatasetCard.load(target / "README.md")
    infos = datasets.info.DatasetInfosDict.from_dataset_card_data(card.data)
    assert infos["default"].features == features
    assert card.data.license == "cc-by-4.0"
    assert {s["name"]: s["num_examples"] for s in card.data.dataset_info["splits"]} == {
        name: split.num_rows for name, split in saved.items()
    }
    assert "| duplicate | 2 |\n| contaminated | 1 |" in card.text
    check_card_against_status(run, card.text)


def table(text: str, head: str) -> dict[str, list[str]]:
    """The rows of the markdown table whose header starts with `head`, by first cell."""
    lines = text[text.index(f"| {head} |") :].splitlines()
    rows = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def check_card_against_status(run: dict[str, Any], text: str) -> None:
    shown = reasonmed("status", "--run-id", RUN, "--db", run["db"], "--json")
    status = json.loads(shown.stdout)
    total = status["calls"]["total"]
    assert f"config hash `{status['config_hash']}`" in text
    totals = {k: v[0] for k, v in table(text, "total").items()}
    assert int(totals["questions"]) == status["total_questions"]
    assert int(totals["examples in the run"]) == status["examples"]
    for key in ("calls", "cache hits", "prompt tokens", "completion tokens"):
        assert int(totals[key]) == total[key.replace(" ", "_")], key
    assert totals["cost"] == f"${status['cost']['total']:.4f}"
    assert int(totals["calls without a price"]) == status["cost"]["unpriced_calls"]
    models = table(text, "alias")
    assert set(models) == {m["alias"] for m in status["calls"]["by_model"]}
    for m in status["calls"]["by_model"]:
        row = models[m["alias"]]
        assert row[:4] == [
            m["model"],
            str(m["calls"]),
            str(m["prompt_tokens"]),
            str(m["completion_tokens"]),
        ]
    tiers = {k: int(v[0]) for k, v in table(text, "tier").items()}
    assert sum(tiers.values()) == status["examples"]


def hub_env(hub: HubStandIn, home: Path, token: str | None = CANARY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
    env |= {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(home), "NO_PROXY": "127.0.0.1"}
    return env | ({"HF_TOKEN": token} if token else {})


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def files_holding(root: Path, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_push_to_hub_uploads_the_folder_and_writes_no_token(run: dict[str, Any]) -> None:
    work = run["tmp"] / "push"
    target, home = work / "hf", work / "home"
    with HubStandIn() as hub:
        done = cli(
            "export",
            "--run-id",
            RUN,
            "--db",
            run["db"],
            "--format",
            "messages",
            *SPLIT_ARGS,
            "--hf",
            str(target),
            "--out",
            str(work / "jsonl"),
            "--push-to-hub",
            "someone/reasonmed-grow",
            "--private",
            env=hub_env(hub, home),
        )
    assert done.returncode == 0, done.stderr
    assert hub.unexpected == []
    repo = hub.repos["someone/reasonmed-grow"]
    assert (repo.repo_type, repo.visibility) == ("dataset", "private")
    local = {
        str(p.relative_to(target)): p.read_bytes()
        for p in target.rglob("*")
        if p.is_file() and (p.name == "README.md" or p.parent.name == "data")
    }
    assert repo.files == local and len(local) == 4  # the card and three Parquet shards
    assert hub.yaml_checked[0]["configs"][0]["data_files"][0] == {
        "split": "train",
        "path": "data/train-*",
    }
    assert 'load_dataset("someone/reasonmed-grow")' in repo.files["README.md"].decode()
    assert set(hub.authorizations) == {f"Bearer {CANARY}"}  # the token was sent, and only there
    assert CANARY not in done.stdout + done.stderr
    assert files_holding(run["tmp"], CANARY) == []


def test_push_errors_never_show_the_token(run: dict[str, Any]) -> None:
    home = run["tmp"] / "push-fail-home"
    with HubStandIn(reject_commits=True) as hub:
        done = cli(
            "export",
            "--run-id",
            RUN,
            "--db",
            run["db"],
            "--format",
            "o1",
            "--push-to-hub",
            "someone/refused",
            env=hub_env(hub, home),
        )
        missing = cli(
            "export",
            "--run-id",
            RUN,
            "--db",
            run["db"],
            "--push-to-hub",
            "someone/refused",
            env=hub_env(hub, home, token=None),
        )
    assert done.returncode == 1
    assert "token rejected: Bearer ***" in " ".join(done.stderr.split())
    assert CANARY not in done.stdout + done.stderr
    assert files_holding(run["tmp"], CANARY) == []
    assert missing.returncode == 2 and "$HF_TOKEN" in missing.stderr


def test_jsonl_export_works_without_the_hf_extra(run: dict[str, Any]) -> None:
    """`datasets` and `huggingface_hub` are imported only for --hf / --push-to-hub."""
    block = (
        "import sys\n"
        "for m in ('datasets', 'huggingface_hub', 'pyarrow'): sys.modules[m] = None\n"
        "from reasonmed.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    out = run["tmp"] / "no-extra.jsonl"
    base = [sys.executable, "-c", block, "export", "--run-id", RUN, "--db", run["db"]]
    plain = subprocess.run(
        [*base, "--format", "think", "--out", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert plain.returncode == 0, plain.stderr
    assert len(read_jsonl(out)) == done_examples(run)
    hf = subprocess.run(
        [*base, "--hf", str(run["tmp"] / "no-extra-hf")], cwd=ROOT, capture_output=True, text=True
    )
    assert hf.returncode == 2
    assert "pip install 'reasonmed[hf]'" in hf.stderr and "Traceback" not in hf.stderr
    assert not (run["tmp"] / "no-extra-hf").exists()


def _question(qid: str, source: str, answer: str) -> Question:
    return Question(
        id=qid,
        question=f"{qid}?",
        options={"A": "x", "B": "y"},
        answer=answer,
        source=source,
        source_id=f"{qid}-src",
        subject="cardiology",
    )


def _state(tier: str, models: list[str], origin: str = "generated") -> dict[str, Any]:
    paths = [{"index": i, "model": m, "temperature": 0.7} for i, m in enumerate(models)]
    kept = [
        {
            "slot": i,
            "source_index": i,
            "origin": origin,
            "cot": f"cot {i}",
            "summary": f"summary {i}",
            "verdict": "Correct",
            "score": 5 - i,
        }
        for i in range(len(models))
    ]
    return {"tier": tier, "paths": paths, "kept": kept, "outcome": {"status": "done"}}


def test_export_rows_join_the_question_and_filter_in_sql(db_url: str, tmp_path: Path) -> None:
    """The storage join on SQLite and PostgreSQL: question fields, order, filters."""
    db = Database.from_url(db_url)
    store = RunStore(db)
    store.create_run("r", "in.jsonl", {}, "h", {})
    questions = [
        _question("q2", "medqa", "B"),
        _question("q1", "pubmedqa", "A"),
        _question("q3", "medqa", "A"),
    ]
    store.register_questions("r", questions)
    states = {
        "q2": _state("easy", ["qwen", "huatuo"]),
        "q1": _state("medium", ["huatuo"], origin="refined"),
        "q3": None,
    }
    for q in questions:
        state = states[q.id]
        if state is None:  # rejected: never exported
            store.finish_question(
                "r",
                q.id,
                status="rejected",
                tier="difficult",
                errors=9,
                reason="no rewrite passed",
                examples=[],
            )
            continue
        store.finish_question(
            "r",
            q.id,
            status="done",
            tier=state["tier"],
            errors=1,
            reason="",
            examples=examples_from_state("r", q, state),
        )
    try:
        with export_rows(db, "r", ExampleFilter()) as rows:
            got = [
                (
                    r.question_id,
                    r.slot,
                    r.source,
                    r.source_id,
                    r.subject,
                    r.answer,
                    r.tier,
                    r.provenance["model"],
                )
                for r in rows.examples()
            ]
            assert got == [
                ("q2", 0, "medqa", "q2-src", "cardiology", "B", "easy", "qwen"),
                ("q2", 1, "medqa", "q2-src", "cardiology", "B", "easy", "huatuo"),
                ("q1", 0, "pubmedqa", "q1-src", "cardiology", "A", "medium", "huatuo"),
            ]
            assert [tuple(q) for q in rows.questions()] == [
                ("q2", "medqa", "easy"),
                ("q1", "pubmedqa", "medium"),
            ]
            assert rows.sources() == ["medqa", "pubmedqa"]
            assert rows.models() == ["huatuo", "qwen"]
        for filt, expected in (
            (ExampleFilter(sources=("pubmedqa",)), [("q1", 0)]),
            (ExampleFilter(models=("huatuo",)), [("q2", 1), ("q1", 0)]),
            (ExampleFilter(tiers=("easy",), origins=("generated",)), [("q2", 0), ("q2", 1)]),
            (ExampleFilter(origins=("regenerated",)), []),
        ):
            with export_rows(db, "r", filt) as rows:
                assert [(r.question_id, r.slot) for r in rows.examples()] == expected
                assert [q[0] for q in rows.questions()] == list(
                    dict.fromkeys(q for q, _ in expected)
                )
        # The new path's alpaca is the original export's bytes on this database too.
        export_examples(db, "r", "reasonmed", tmp_path / "original.jsonl")
        export_dataset(db, ExportRequest("r", out=tmp_path / "new.jsonl"))
        original = (tmp_path / "original.jsonl").read_bytes()
        assert (tmp_path / "new.jsonl").read_bytes() == original and original.count(b"\n") == 3
    finally:
        db.close()


def test_export_rows_page_through_repeated_positions(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run grown from a reordered file can give two questions one position; paging by
    (position, id), one question a page here, still yields every example exactly once."""
    monkeypatch.setattr(export_reads, "PAGE", 1)
    db = Database.from_url(db_url)
    store = RunStore(db)
    store.create_run("r", "in.jsonl", {}, "h", {})
    a, b, c = (_question(qid, "medqa", "A") for qid in ("qa", "qb", "qc"))
    store.register_questions("r", [a, b])  # positions 0, 1
    store.register_questions("r", [c, a])  # qc also at position 0
    for q in (a, b, c):
        kept = examples_from_state("r", q, _state("easy", ["m", "n"]))
        store.finish_question(
            "r", q.id, status="done", tier="easy", errors=0, reason="", examples=kept
        )
    try:
        with export_rows(db, "r", ExampleFilter()) as rows:
            got = [(r.question_id, r.slot) for r in rows.examples()]
            assert [q[0] for q in rows.questions()] == ["qa", "qc", "qb"]
        assert got == [("qa", 0), ("qa", 1), ("qc", 0), ("qc", 1), ("qb", 0), ("qb", 1)]
    finally:
        db.close()
