"""Dedup and decontamination of imported questions: each kind of drop, its record, what is kept.

All questions here are made up for the tests.
"""

from __future__ import annotations

import pytest

from reasonmed.core.question import Question
from reasonmed.sources.question_cleaning import CleaningSettings, Drop, QuestionCleaner


def make(
    qid: str, stem: str, options: list[str], source: str = "", source_id: str = ""
) -> Question:
    lettered = {chr(ord("A") + index): text for index, text in enumerate(options)}
    return Question(
        id=qid, question=stem, options=lettered, answer="A", source=source, source_id=source_id
    )


VIGNETTE = make(
    "v1",
    "A 52-year-old woman has had progressive fatigue and pruritus for 6 months. Her skin is "
    "mildly jaundiced and the liver edge is palpable. Alkaline phosphatase is markedly raised "
    "and antimitochondrial antibodies are positive. Which of the following is the most likely "
    "diagnosis?",
    ["Primary biliary cholangitis", "Primary sclerosing cholangitis", "Hepatitis A", "Gallstones"],
)
# The same question with four words changed.
VIGNETTE_REWORDED = make(
    "v2",
    "A 52-year-old woman has had worsening tiredness and itching for 6 months. Her skin is "
    "mildly jaundiced and the liver edge is palpable. Alkaline phosphatase is markedly raised "
    "and antimitochondrial antibodies are present. Which of the following is the most likely "
    "diagnosis?",
    ["Primary biliary cholangitis", "Primary sclerosing cholangitis", "Hepatitis A", "Gallstones"],
)
# A different question ending in the same stock sentence.
OTHER_VIGNETTE = make(
    "v3",
    "A 23-year-old man has had a painless penile ulcer for 10 days. It has a clean base and "
    "firm edges, and the inguinal nodes are rubbery and nontender. Which of the following is "
    "the most likely diagnosis?",
    ["Primary syphilis", "Chancroid", "Genital herpes", "Lymphogranuloma venereum"],
)
ONE_LINER = make("s1", "Antidote for methanol poisoning:", ["Fomepizole", "Naloxone", "Atropine"])


def cleaner_with(
    *benchmarks: Question, settings: CleaningSettings | None = None
) -> QuestionCleaner:
    cleaner = QuestionCleaner(settings or CleaningSettings())
    for line, question in enumerate(benchmarks, start=1):
        cleaner.add_benchmark(question, "test.jsonl", line)
    return cleaner


def run(cleaner: QuestionCleaner, questions: list[Question]) -> list[Drop | None]:
    return [
        cleaner.check(question, "train.jsonl", line) for line, question in enumerate(questions, 1)
    ]


def test_exact_copy_after_normalization_is_a_duplicate_of_the_first() -> None:
    copy = make(
        "s2",
        "  ANTIDOTE for methanol-poisoning ?? ",
        ["fomepizole", "Ｎaloxone", "atropine."],  # full-width N: NFKC folds it
    )
    drops = run(cleaner_with(), [ONE_LINER, copy])
    assert drops[0] is None
    assert drops[1] == Drop("s2", "train.jsonl", 2, "duplicate", "s1", 1.0, "exact")
    assert drops[1].as_json() == {
        "id": "s2",
        "file": "train.jsonl",
        "line": 2,
        "reason": "duplicate",
        "of": "s1",
        "score": 1.0,
        "how": "exact",
    }


def test_the_first_in_input_order_is_the_one_kept() -> None:
    for first, second in ((VIGNETTE, VIGNETTE_REWORDED), (VIGNETTE_REWORDED, VIGNETTE)):
        drops = run(cleaner_with(), [first, second])
        assert drops[0] is None
        assert drops[1] is not None and drops[1].of == first.id and drops[1].id == second.id


def test_a_reworded_copy_is_a_near_duplicate() -> None:
    drops = run(cleaner_with(), [VIGNETTE, OTHER_VIGNETTE, VIGNETTE_REWORDED])
    assert drops[:2] == [None, None]
    drop = drops[2]
    assert drop is not None
    assert (drop.reason, drop.of, drop.line) == ("near_duplicate", "v1", 3)
    assert 0.5 <= drop.score < 1.0
    assert drop.how == f"minhash {drop.score:.2f}"


def test_questions_sharing_only_boilerplate_are_both_kept() -> None:
    assert run(cleaner_with(), [VIGNETTE, OTHER_VIGNETTE]) == [None, None]


def test_other_options_make_a_different_exact_key() -> None:
    other = make("s3", ONE_LINER.question, ["Ethanol", "Flumazenil", "Glucagon"])
    drops = run(cleaner_with(), [ONE_LINER, other])
    assert drops[1] is None or drops[1].reason != "duplicate"


def test_a_near_duplicate_is_judged_against_kept_questions_only() -> None:
    """A chain a ~ b ~ c: b is dropped, so c is compared with a alone."""
    a, b = VIGNETTE, VIGNETTE_REWORDED
    c = b.model_copy(
        update={"id": "v4", "question": b.question.replace("mildly jaundiced", "deeply yellow")}
    )
    drops = run(cleaner_with(), [a, b, c])
    assert drops[1] is not None and drops[1].of == "v1"
    assert drops[2] is not None and drops[2].of == "v1"


def test_an_exact_copy_of_a_benchmark_question_is_contaminated() -> None:
    cleaner = cleaner_with(OTHER_VIGNETTE, VIGNETTE)
    drop = cleaner.check(VIGNETTE.model_copy(update={"id": "t1"}), "train.jsonl", 9)
    assert drop == Drop("t1", "train.jsonl", 9, "contaminated", "test.jsonl:2", 1.0, "exact")


def test_a_benchmark_question_is_never_kept_into_training() -> None:
    """Imported by mistake alongside its own test split, every one of them is dropped."""
    benchmarks = [VIGNETTE, OTHER_VIGNETTE, ONE_LINER]
    drops = run(cleaner_with(*benchmarks), benchmarks)
    assert [drop.reason if drop else None for drop in drops] == ["contaminated"] * 3
    assert [drop.of for drop in drops if drop] == ["test.jsonl:1", "test.jsonl:2", "test.jsonl:3"]


def test_a_benchmark_stem_with_other_options_is_contaminated_by_ngrams() -> None:
    copy = make(
        "t2", VIGNETTE.question, ["Autoimmune hepatitis", "Wilson disease", "Hemochromatosis"]
    )
    drop = cleaner_with(VIGNETTE).check(copy, "train.jsonl", 4)
    assert drop is not None
    assert (drop.reason, drop.of, drop.score) == ("contaminated", "test.jsonl:1", 1.0)
    assert drop.how in ("same stem", "8-gram overlap 1.00")


def test_a_benchmark_vignette_inside_a_longer_question_is_contaminated() -> None:
    longer = make(
        "t3",
        "Read the case and answer. " + OTHER_VIGNETTE.question.replace("?", ", and why?"),
        ["Primary syphilis", "Chancroid", "Genital herpes", "Donovanosis"],
    )
    drop = cleaner_with(VIGNETTE, OTHER_VIGNETTE).check(longer, "train.jsonl", 1)
    assert drop is not None and drop.reason == "contaminated" and drop.of == "test.jsonl:2"
    assert drop.how.startswith("8-gram overlap ")
    assert 0.6 <= drop.score <= 1.0


def test_a_short_stem_benchmark_question_is_caught_when_copied() -> None:
    """4 words, 7 with the options: the whole text stands in as one 7-gram, and the stem alone
    catches a copy with its options reordered."""
    cleaner = cleaner_with(ONE_LINER)
    prefixed = make(
        "t4", "Toxicology, 2nd part. " + ONE_LINER.question, list(ONE_LINER.options.values())
    )
    shuffled = make("t5", ONE_LINER.question, ["Atropine", "Fomepizole", "Naloxone"])
    first = cleaner.check(prefixed, "train.jsonl", 1)
    second = cleaner.check(shuffled, "train.jsonl", 2)
    assert first is not None and first.reason == "contaminated" and first.of == "test.jsonl:1"
    assert (first.how, first.score) == ("7-gram overlap 1.00", 1.0)
    assert second == Drop("t5", "train.jsonl", 2, "contaminated", "test.jsonl:1", 1.0, "same stem")


@pytest.mark.parametrize(("cutoff", "expected"), [(5, None), (10, "same stem")])
def test_a_stem_many_benchmark_questions_share_is_boilerplate(
    cutoff: int, expected: str | None
) -> None:
    stem = "Which of the following is true?"
    benchmarks = [make(f"b{index}", stem, [f"fact {index}", f"myth {index}"]) for index in range(6)]
    cleaner = cleaner_with(*benchmarks, settings=CleaningSettings(boilerplate_cutoff=cutoff))
    drop = cleaner.check(make("t6", stem, ["Aspirin is an NSAID", "Water boils"]), "t", 1)
    assert (drop.how if drop else None) == expected


@pytest.mark.parametrize(("cutoff", "expected"), [(5, None), (10, "8-gram overlap 0.67")])
def test_ngrams_many_benchmark_questions_share_do_not_count(
    cutoff: int, expected: str | None
) -> None:
    """Six benchmark stems "<finding>. Which of the following is the most likely diagnosis?":
    two of each one's three 8-grams are the stock sentence. Counted, a different question ending
    the same way would hold 2 of 3; as boilerplate, it holds none of the one that is left."""
    findings = ["Rash", "Jaundice", "Hematuria", "Syncope", "Dysphagia", "Hemoptysis"]
    ending = ". Which of the following is the most likely diagnosis?"
    benchmarks = [
        make(f"b{index}", finding + ending, [f"answer {index}", f"decoy {index}"])
        for index, finding in enumerate(findings)
    ]
    cleaner = cleaner_with(*benchmarks, settings=CleaningSettings(boilerplate_cutoff=cutoff))
    report = cleaner.benchmark_report()
    assert report["benchmarks"] == 6
    assert report["boilerplate_ngrams"] == (2 if cutoff == 5 else 0)
    drop = cleaner.check(make("t8", "Fever" + ending, ["Malaria", "Typhoid"]), "t", 1)
    assert (drop.how if drop else None) == expected


def test_a_reworded_benchmark_copy_is_contaminated_by_minhash() -> None:
    drop = cleaner_with(VIGNETTE).check(VIGNETTE_REWORDED, "train.jsonl", 3)
    assert drop is not None
    assert (drop.reason, drop.of) == ("contaminated", "test.jsonl:1")
    assert drop.how in (f"minhash {drop.score:.2f}", f"8-gram overlap {drop.score:.2f}")


def test_pubmedqa_matches_by_pmid_whatever_the_text() -> None:
    benchmark = make(
        "p1", "Does early feeding shorten stay?", ["yes", "no", "maybe"], "pubmedqa", "2961"
    )
    same_pmid = make("p2", "Unrelated wording here?", ["yes", "no", "maybe"], "pubmedqa", "2961")
    other_pmid = make("p3", "Unrelated wording here?", ["yes", "no", "maybe"], "pubmedqa", "2962")
    not_pubmedqa = make("p4", "Another one entirely?", ["yes", "no", "maybe"], "medmcqa", "2961")
    drops = run(cleaner_with(benchmark), [same_pmid, other_pmid, not_pubmedqa])
    assert drops[0] == Drop("p2", "train.jsonl", 1, "contaminated", "test.jsonl:1", 1.0, "pmid")
    assert drops[1] is None or drops[1].how != "pmid"
    assert drops[2] is None or drops[2].how != "pmid"


def test_contamination_names_the_rule_that_fired_first() -> None:
    """An exact copy is also an n-gram and MinHash match; the record says the strongest."""
    drop = cleaner_with(ONE_LINER).check(ONE_LINER, "train.jsonl", 1)
    assert drop is not None and drop.how == "exact"


def test_benchmarks_cannot_be_added_after_the_first_check() -> None:
    cleaner = cleaner_with(VIGNETTE)
    cleaner.check(ONE_LINER, "train.jsonl", 1)
    with pytest.raises(RuntimeError, match="before checking"):
        cleaner.add_benchmark(OTHER_VIGNETTE, "test.jsonl", 2)


def test_counts_add_up_to_the_questions_checked() -> None:
    cleaner = cleaner_with(OTHER_VIGNETTE)
    run(cleaner, [VIGNETTE, VIGNETTE, VIGNETTE_REWORDED, OTHER_VIGNETTE, ONE_LINER])
    assert cleaner.counts == {"kept": 2, "duplicate": 1, "near_duplicate": 1, "contaminated": 1}


@pytest.mark.parametrize(
    "bad",
    [
        {"near_duplicate_threshold": 0.0},
        {"contamination_threshold": 1.5},
        {"ngram": 0},
        {"num_perm": 100, "bands": 32},
    ],
)
def test_settings_reject_values_that_cannot_work(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CleaningSettings(**bad)


def test_an_empty_batch_checks_nothing() -> None:
    assert cleaner_with(VIGNETTE).check_batch([]) == []


def test_a_stem_under_n_words_is_checked_with_its_options() -> None:
    """6 words: its 8-grams come from stem + options, found inside a longer copy."""
    benchmark = make(
        "s4",
        "Drug of choice for absence seizures:",
        ["Ethosuximide", "Carbamazepine", "Phenytoin", "Vigabatrin"],
    )
    longer = make(
        "t7",
        "Paediatric neurology. " + benchmark.question,
        ["Ethosuximide", "Carbamazepine", "Phenytoin", "Vigabatrin"],
    )
    drop = cleaner_with(benchmark).check(longer, "train.jsonl", 1)
    assert drop == Drop(
        "t7", "train.jsonl", 1, "contaminated", "test.jsonl:1", 1.0, "8-gram overlap 1.00"
    )
