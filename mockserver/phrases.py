"""Sentence banks the mock's writer draws from, so its chains of thought read like reasoning.

Placeholders: {t1}/{t2} are key terms taken from the question, {opt} an option's text.
"""

from __future__ import annotations

_STOPWORD_TEXT = """
    about above after again against because before being below between both could during
    following further having himself herself itself likely other otherwise should their theirs
    these those through under until which while whose would years presents presented patient
    patients following question statement statements correct incorrect except regarding
    associated following history appropriate management diagnosis there where shows showed
    develops developed reports complains examination following admitted because within without
    respectively option options answer select choice commonly usually
    """
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

MEDICAL_SUFFIXES = (
    "itis", "emia", "aemia", "osis", "oma", "pathy", "ectomy", "graphy", "algia", "pnea", "trophy",
    "plasia", "tension", "cardia", "uria", "penia", "cytosis", "megaly", "rrhea", "ism", "ase",
    "ine", "gen", "cyte", "ole", "sis", "ia", "oid",
)  # fmt: skip
ADJECTIVE_SUFFIXES = ("al", "ive", "ic", "ar", "ous", "ary", "ile")

RESTATE = (
    "The question asks for the option that best fits a case centred on {t1} and {t2}.",
    "We have to decide which option best explains {t1} in the setting of {t2}.",
    "Put simply: given {t1} and {t2}, which of the listed options is the best answer?",
)

BACKGROUND = (
    "The findings have to be read together: {t1} alone is non-specific, but with {t2} it narrows "
    "the field considerably.",
    "The underlying pathophysiology is the best guide here, because it predicts which findings "
    "should appear together.",
    "Typical presentations and expected test results are the most reliable way to separate the "
    "options.",
    "A useful check is whether an option explains every finding, not just the most striking one.",
    "Anatomy and timing both matter: where the problem sits and how fast it developed point "
    "toward a specific mechanism.",
)

SUPPORT = (
    "This fits the picture well: it accounts for {t1} and is consistent with {t2}.",
    "It explains {t1} directly, and its expected course matches {t2}.",
    "The mechanism behind it links {t1} with {t2}, which is exactly the combination described.",
    "It is the option that ties the key findings together without extra assumptions.",
)

RUNNER_UP = (
    "This is the main alternative, since it can also produce {t1}, but it explains {t2} less "
    "neatly.",
    "It is tempting because of {t1}; the pitfall is that it usually comes with findings the "
    "question does not mention.",
    "It shares part of the picture with the best option, so it deserves a closer comparison.",
)

AGAINST = (
    "This does not match {t1}; it would be expected to present differently.",
    "Nothing in the question points to it, and it leaves {t2} unexplained.",
    "It is a classic distractor: related to the topic but inconsistent with {t1}.",
    "Its usual setting and timing differ from what is described here.",
    "It would require findings that are not given, so it is unlikely.",
)

RULE_OUT = (
    "{opts} can be set aside, because none of them accounts for the combination of findings.",
    "I rule out {opts}: each conflicts with at least one key detail.",
    "That leaves {opts} as poor fits, so they drop out.",
)

COMPARE = (
    "Between {runner} and {chosen}, {chosen} fits better: it explains both {t1} and {t2}, while "
    "{runner} explains only part of the picture.",
    "Comparing {runner} with {chosen}, the deciding point is {t2}, which favours {chosen}.",
    "{runner} is plausible at first glance, but {chosen} is more consistent with {t1} and with "
    "the overall course.",
)

CONCLUDE = (
    "Taking everything together, {chosen} is the best answer because it accounts for {t1} and "
    "{t2}.",
    "The reasoning converges on {chosen}: it is the only option consistent with all the key "
    "findings.",
    "In summary, the findings point to {chosen}, and the alternatives each fail on at least one "
    "detail.",
)

R1_OPENERS = (
    "Okay, let me work through this.",
    "Alright, let's see what this question is really asking.",
    "Let me think about this carefully.",
)

R1_HESITATIONS = (
    "Wait, should I reconsider {runner}? No, it still leaves {t2} unexplained.",
    "Hmm, let me double-check {runner} once more. It does not fit {t1} as well.",
    "Could it be {runner} after all? I don't think so, the details point the other way.",
)

RED_FLAGS = (
    "{t1} is a red flag here: it signals that the process is more than a benign variant.",
    "The combination of {t1} with {t2} is the warning sign that shifts the differential.",
)

MECHANISMS = (
    "Mechanistically, the process behind {chosen} produces {t1} first and {t2} as it progresses.",
    "The mechanism explains the picture: the primary disturbance leads to {t1}, and the body's "
    "response accounts for {t2}.",
)

REVIEW_FIXES = (
    "Addressing the earlier mistake ({reason}): I check this point explicitly below.",
    "A reviewer noted that {reason}; the reasoning here avoids that by weighing each option "
    "against every finding.",
)

SUMMARY_REASONS = (
    "because it accounts for {t1} together with {t2}",
    "since it is the only option consistent with {t1}",
    "as it best explains the combination of {t1} and {t2}",
)

EXAMINEE_LINES = (
    "The key findings are {t1} and {t2}; the option that fits them best is {chosen}.",
    "Considering {t1}, {chosen} is the most consistent choice.",
)
