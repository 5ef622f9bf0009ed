"""The near-duplicate default, checked on the hand-written pairs it was chosen from.

Each REWORDED pair is one made-up question and a copy with a few words changed; each DISTINCT
pair is two different questions sharing phrasing (a stock lead-in or ending, a template, an option
set). Their exact Jaccard similarity over the shingles the cleaner uses (word bigrams less
stopwords, stem then options) puts reworded copies at 0.58-0.88 and distinct pairs at 0.06-0.44:
the default of 0.5 sits in that gap, and the test below keeps it so.
"""

from __future__ import annotations

import pytest

from reasonmed.core.question import Question
from reasonmed.sources.question_cleaning import CleaningSettings, QuestionCleaner
from reasonmed.sources.text_normal import STOPWORDS, normalize_text

Pair = tuple[tuple[str, list[str]], tuple[str, list[str]]]

# A question and a copy with a few words changed.
REWORDED: list[Pair] = [
    (
        (
            (
                "A 58-year-old man has had crushing chest pain for 40 minutes. His blood pressure "
                "is 84/50 mm Hg and pulse is 56/min. The jugular veins are distended and the lungs"
                " are clear. The ECG shows ST elevation in leads II, III and aVF. Which of the "
                "following should be avoided in this patient?"
            ),
            [
                "Intravenous saline bolus",
                "Sublingual nitroglycerin",
                "Chewed aspirin",
                "Primary PCI",
                "Heparin",
            ],
        ),
        (
            (
                "A 58-year-old man has had severe chest pain for 45 minutes. His blood pressure is"
                " 84/50 mm Hg and heart rate is 56/min. The jugular veins are distended and the "
                "lungs are clear. The ECG shows ST elevation in leads II, III and aVF. Which of "
                "the following should be avoided in this man?"
            ),
            [
                "Intravenous saline bolus",
                "Sublingual nitroglycerin",
                "Chewed aspirin",
                "Primary PCI",
                "Heparin",
            ],
        ),
    ),
    (
        (
            (
                "A 24-year-old woman has had heat intolerance, weight loss and palpitations for 3 "
                "months. Examination shows a diffusely enlarged thyroid gland with a bruit and "
                "proptosis of both eyes. Which of the following best explains her thyroid "
                "hyperfunction?"
            ),
            [
                "TSH receptor stimulating antibodies",
                "Anti-TPO antibodies",
                "TSH-secreting adenoma",
                "Toxic nodule",
                "Subacute thyroiditis",
            ],
        ),
        (
            (
                "A 26-year-old woman has had heat intolerance, weight loss and palpitations for 2 "
                "months. Examination shows a diffusely enlarged thyroid gland with a bruit and "
                "bilateral proptosis. Which of the following best explains her thyroid "
                "hyperfunction?"
            ),
            [
                "TSH receptor stimulating antibodies",
                "Anti-TPO antibodies",
                "TSH-secreting adenoma",
                "Toxic nodule",
                "Subacute thyroiditis",
            ],
        ),
    ),
    (
        (
            (
                "A 67-year-old smoker is brought in because of two days of confusion. Serum sodium"
                " is 121 mEq/L, serum osmolality is low and urine osmolality is inappropriately "
                "high. Chest x-ray shows a central hilar mass. Which tumor is most likely?"
            ),
            [
                "Small cell carcinoma",
                "Squamous cell carcinoma",
                "Adenocarcinoma",
                "Large cell carcinoma",
                "Carcinoid",
            ],
        ),
        (
            (
                "A 67-year-old heavy smoker is brought in with two days of confusion. Serum sodium"
                " is 121 mEq/L, serum osmolality is low and urine osmolality is inappropriately "
                "high. Chest radiograph shows a central hilar mass. Which tumor is most likely?"
            ),
            [
                "Small cell carcinoma",
                "Squamous cell carcinoma",
                "Adenocarcinoma",
                "Large cell carcinoma",
                "Carcinoid tumor",
            ],
        ),
    ),
    (
        (
            (
                "A 45-year-old man started isoniazid for latent tuberculosis 3 months ago. He now "
                "reports numbness and burning in both feet. Deficiency of which vitamin explains "
                "his symptoms?"
            ),
            ["Pyridoxine", "Thiamine", "Cobalamin", "Niacin"],
        ),
        (
            (
                "A 45-year-old man began isoniazid for latent tuberculosis 3 months ago. He now "
                "complains of numbness and burning in both feet. Deficiency of which vitamin "
                "explains these symptoms?"
            ),
            ["Pyridoxine", "Thiamine", "Cobalamin", "Niacin"],
        ),
    ),
    (
        (
            (
                "A 31-year-old woman reports double vision and drooping eyelids that get worse in "
                "the evening and improve after rest. Which antibodies are most likely present?"
            ),
            [
                "Anti-acetylcholine receptor",
                "Anti-voltage-gated calcium channel",
                "Anti-GQ1b",
                "Anti-aquaporin-4",
            ],
        ),
        (
            (
                "A 31-year-old woman complains of double vision and drooping eyelids that get "
                "worse in the evening and improve with rest. Which antibody is most likely "
                "present?"
            ),
            [
                "Anti-acetylcholine receptor",
                "Anti-voltage-gated calcium channel",
                "Anti-GQ1b",
                "Anti-aquaporin-4",
            ],
        ),
    ),
    (
        (
            "Drug of choice for typical absence seizures in a child without other seizure types:",
            ["Ethosuximide", "Carbamazepine", "Phenytoin", "Gabapentin"],
        ),
        (
            "Drug of choice for typical absence seizures in a child with no other seizure types is",
            ["Ethosuximide", "Carbamazepine", "Phenytoin", "Gabapentin"],
        ),
    ),
    (
        (
            "Nerve most at risk in a fracture of the surgical neck of the humerus:",
            ["Axillary nerve", "Radial nerve", "Ulnar nerve", "Median nerve"],
        ),
        (
            "Nerve most likely injured in a fracture of the surgical neck of the humerus:",
            ["Axillary nerve", "Radial nerve", "Ulnar nerve", "Median nerve"],
        ),
    ),
    (
        (
            "Dry cough caused by accumulation of bradykinin is a typical adverse effect of:",
            ["ACE inhibitors", "Beta blockers", "Calcium channel blockers", "Thiazides"],
        ),
        (
            "Dry cough due to accumulation of bradykinin is a typical side effect of:",
            ["ACE inhibitors", "Beta blockers", "Calcium channel blockers", "Thiazides"],
        ),
    ),
    (
        (
            "Which enzyme catalyzes the rate-limiting step of cholesterol synthesis?",
            ["HMG-CoA reductase", "HMG-CoA synthase", "Squalene epoxidase", "Mevalonate kinase"],
        ),
        (
            "Which enzyme catalyses the rate limiting step in cholesterol synthesis?",
            ["HMG-CoA reductase", "HMG-CoA synthase", "Squalene epoxidase", "Mevalonate kinase"],
        ),
    ),
    (
        (
            (
                "In which segment of the nephron is the largest fraction of filtered sodium "
                "reabsorbed?"
            ),
            [
                "Proximal convoluted tubule",
                "Thick ascending limb",
                "Distal convoluted tubule",
                "Collecting duct",
            ],
        ),
        (
            (
                "In which part of the nephron is the largest fraction of the filtered sodium "
                "reabsorbed?"
            ),
            [
                "Proximal convoluted tubule",
                "Thick ascending limb",
                "Distal convoluted tubule",
                "Collecting duct",
            ],
        ),
    ),
    (
        (
            "Do text-message reminders increase completion of a two-dose adult vaccine series?",
            ["yes", "no", "maybe"],
        ),
        (
            "Do text message reminders improve completion of a two-dose adult vaccine series?",
            ["yes", "no", "maybe"],
        ),
    ),
    (
        (
            (
                "A 3-week-old boy has had forceful nonbilious vomiting after every feed for a "
                "week. An olive-shaped mass is felt in the epigastrium. Which acid-base "
                "disturbance is expected?"
            ),
            [
                "Hypochloremic hypokalemic metabolic alkalosis",
                "Hyperchloremic metabolic acidosis",
                "Respiratory alkalosis",
                "Respiratory acidosis",
            ],
        ),
        (
            (
                "A 4-week-old boy has had projectile nonbilious vomiting after every feed for a "
                "week. An olive-shaped mass is palpated in the epigastrium. Which acid-base "
                "disturbance is expected?"
            ),
            [
                "Hypochloremic hypokalemic metabolic alkalosis",
                "Hyperchloremic metabolic acidosis",
                "Respiratory alkalosis",
                "Respiratory acidosis",
            ],
        ),
    ),
    (
        (
            "Most common histological type of thyroid cancer:",
            ["Papillary", "Follicular", "Medullary", "Anaplastic"],
        ),
        (
            "Commonest histological type of thyroid cancer is",
            ["Papillary", "Follicular", "Medullary", "Anaplastic"],
        ),
    ),
    (
        (
            (
                "A 19-year-old man collapsed briefly while playing basketball. His uncle died "
                "suddenly at age 30. Echocardiography shows asymmetric septal hypertrophy. Which "
                "maneuver increases the intensity of his murmur?"
            ),
            ["Valsalva maneuver", "Squatting", "Passive leg raise", "Handgrip"],
        ),
        (
            (
                "A 19-year-old man fainted briefly while playing football. His uncle died suddenly"
                " at age 30. Echocardiography shows asymmetric septal hypertrophy. Which maneuver "
                "increases the intensity of the murmur?"
            ),
            ["Valsalva maneuver", "Squatting", "Passive leg raise", "Handgrip"],
        ),
    ),
]

# Different questions that share phrasing: lead-ins, endings, templates, option sets.
DISTINCT: list[Pair] = [
    (
        (
            (
                "A 34-year-old man has had weakness in his legs for 5 days that has spread to his "
                "arms. Two weeks ago he had diarrhea. Reflexes are absent. Which of the following "
                "is the most likely diagnosis?"
            ),
            ["Guillain-Barre syndrome", "Myasthenia gravis", "Multiple sclerosis", "Botulism"],
        ),
        (
            (
                "A 34-year-old woman has had fever, joint pain and a rash over her cheeks for 2 "
                "months. Urinalysis shows protein and red cell casts. Which of the following is "
                "the most likely diagnosis?"
            ),
            [
                "Systemic lupus erythematosus",
                "Rheumatoid arthritis",
                "Dermatomyositis",
                "Sarcoidosis",
            ],
        ),
    ),
    (
        (
            (
                "A 62-year-old man comes to the emergency department because of chest pain. Which "
                "of the following is the most appropriate next step in management?"
            ),
            ["ECG", "Chest x-ray", "CT angiography", "Troponin"],
        ),
        (
            (
                "A 62-year-old woman comes to the emergency department because of headache. Which "
                "of the following is the most appropriate next step in management?"
            ),
            ["CT head", "Lumbar puncture", "MRI brain", "Observation"],
        ),
    ),
    (
        (
            "Most common site of tubal ectopic pregnancy:",
            ["Ampulla", "Isthmus", "Interstitial part", "Fimbria"],
        ),
        (
            "Most common site of carcinoid tumor:",
            ["Appendix", "Ileum", "Rectum", "Stomach"],
        ),
    ),
    (
        (
            "Drug of choice for typical absence seizures:",
            ["Ethosuximide", "Carbamazepine", "Phenytoin", "Gabapentin"],
        ),
        (
            "Drug of choice for trigeminal neuralgia:",
            ["Carbamazepine", "Ethosuximide", "Phenytoin", "Gabapentin"],
        ),
    ),
    (
        (
            "All of the following are features of Down syndrome except:",
            ["Epicanthic folds", "Single palmar crease", "Tall stature", "Hypotonia"],
        ),
        (
            "All of the following are features of Turner syndrome except:",
            ["Short stature", "Webbed neck", "Coarctation of aorta", "Tall stature"],
        ),
    ),
    (
        (
            "Do text-message reminders increase completion of a two-dose adult vaccine series?",
            ["yes", "no", "maybe"],
        ),
        (
            (
                "Does a preoperative carbohydrate drink reduce insulin resistance after colorectal"
                " surgery?"
            ),
            ["yes", "no", "maybe"],
        ),
    ),
    (
        (
            (
                "Is early mobilisation after hip fracture surgery associated with less "
                "postoperative pneumonia?"
            ),
            ["yes", "no", "maybe"],
        ),
        (
            (
                "Is early mobilisation after knee replacement surgery associated with shorter "
                "hospital stay?"
            ),
            ["yes", "no", "maybe"],
        ),
    ),
    (
        (
            "Which of the following is not a feature of nephrotic syndrome?",
            ["Proteinuria", "Hypoalbuminemia", "Edema", "Hematuria with red cell casts"],
        ),
        (
            "Which of the following is not a feature of nephritic syndrome?",
            ["Hematuria", "Hypertension", "Oliguria", "Massive proteinuria"],
        ),
    ),
    (
        (
            "Which of the following shifts the oxygen-hemoglobin dissociation curve to the right?",
            ["Increased 2,3-BPG", "Alkalosis", "Hypothermia", "Fetal hemoglobin"],
        ),
        (
            "Which of the following shifts the oxygen-hemoglobin dissociation curve to the left?",
            ["Increased 2,3-BPG", "Acidosis", "Hyperthermia", "Fetal hemoglobin"],
        ),
    ),
    (
        (
            (
                "A 4-year-old boy is brought to the clinic because of swelling around his eyes. "
                "Urine shows 4+ protein. Which of the following is the most likely finding on "
                "electron microscopy?"
            ),
            [
                "Effacement of podocyte foot processes",
                "Subepithelial humps",
                "Basket-weave basement membrane",
                "Mesangial deposits",
            ],
        ),
        (
            (
                "A 4-year-old girl is brought to the clinic because of bloody diarrhea followed by"
                " pallor. Platelets are low and creatinine is high. Which of the following is the "
                "most likely cause?"
            ),
            [
                "Shiga toxin",
                "Autoantibodies to ADAMTS13",
                "Immune complex deposition",
                "Drug reaction",
            ],
        ),
    ),
    (
        (
            "Antidote for acetaminophen overdose:",
            ["N-acetylcysteine", "Naloxone", "Flumazenil", "Fomepizole"],
        ),
        (
            "Antidote for methanol poisoning:",
            ["Fomepizole", "Naloxone", "Flumazenil", "N-acetylcysteine"],
        ),
    ),
    (
        (
            (
                "A 28-year-old woman comes to the emergency department with lower abdominal pain "
                "and vaginal spotting. Her last menstrual period was 7 weeks ago. Which of the "
                "following is the most appropriate next step?"
            ),
            ["Transvaginal ultrasound", "Serum beta-hCG", "Laparoscopy", "Methotrexate"],
        ),
        (
            (
                "A 28-year-old woman comes to the emergency department with palpitations and "
                "anxiety after a party. Her pulse is 140/min. Which of the following is the most "
                "appropriate next step?"
            ),
            ["ECG", "Urine drug screen", "Adenosine", "Beta blocker"],
        ),
    ),
    (
        (
            "Enzyme deficient in classic phenylketonuria:",
            [
                "Phenylalanine hydroxylase",
                "Tyrosinase",
                "Homogentisate oxidase",
                "Cystathionine synthase",
            ],
        ),
        (
            "Enzyme deficient in alkaptonuria:",
            [
                "Homogentisate oxidase",
                "Phenylalanine hydroxylase",
                "Tyrosinase",
                "Cystathionine synthase",
            ],
        ),
    ),
    (
        (
            "Cranial nerve that supplies the lateral rectus muscle:",
            ["Abducens", "Trochlear", "Oculomotor", "Trigeminal"],
        ),
        (
            "Cranial nerve that supplies the superior oblique muscle:",
            ["Trochlear", "Abducens", "Oculomotor", "Facial"],
        ),
    ),
]


def _question(qid: str, text: tuple[str, list[str]]) -> Question:
    stem, options = text
    lettered = {chr(ord("A") + index): option for index, option in enumerate(options)}
    return Question(id=qid, question=stem, options=lettered, answer="A")


def _jaccard(pair: Pair) -> float:
    """Exact Jaccard of the two texts' shingle sets, as the cleaner defines shingles."""

    def shingles(text: tuple[str, list[str]]) -> set[tuple[str, ...]]:
        words = normalize_text(text[0] + " " + " ".join(text[1])).split()
        content = [word for word in words if word.encode() not in STOPWORDS] or words
        return {tuple(content[i : i + 2]) for i in range(len(content) - 1)}

    first, second = shingles(pair[0]), shingles(pair[1])
    return len(first & second) / len(first | second)


def test_the_default_threshold_sits_between_copies_and_different_questions() -> None:
    threshold = CleaningSettings().near_duplicate_threshold
    reworded = [_jaccard(pair) for pair in REWORDED]
    distinct = [_jaccard(pair) for pair in DISTINCT]
    assert max(distinct) + 0.05 <= threshold <= min(reworded) - 0.05, (distinct, reworded)


@pytest.mark.parametrize("pair", REWORDED, ids=lambda pair: pair[0][0][:40])
def test_a_reworded_copy_is_dropped(pair: Pair) -> None:
    cleaner = QuestionCleaner()
    assert cleaner.check(_question("first", pair[0]), "train.jsonl", 1) is None
    drop = cleaner.check(_question("copy", pair[1]), "train.jsonl", 2)
    assert drop is not None and (drop.reason, drop.of) == ("near_duplicate", "first")


@pytest.mark.parametrize("pair", DISTINCT, ids=lambda pair: pair[0][0][:40])
def test_different_questions_sharing_phrasing_are_both_kept(pair: Pair) -> None:
    cleaner = QuestionCleaner()
    assert cleaner.check(_question("first", pair[0]), "train.jsonl", 1) is None
    assert cleaner.check(_question("second", pair[1]), "train.jsonl", 2) is None
