"""The columns and types of each record shape, described once.

The Hugging Face dataset's `Features` (built in `hf_dataset`, where `datasets` is imported) and
the dataset card's `dataset_info.features` YAML are both derived from this description, so the
card always states the types the Parquet files and the saved dataset really have. A field is a
dtype name, a struct (a dict of fields) or a list of structs (a one-element list).
"""

from __future__ import annotations

from typing import Any

from reasonmed.exports.record_formats import RecordStyle

Spec = dict[str, Any]

METADATA: Spec = {
    "question_id": "string",
    "source": "string",
    "source_id": "string",
    "subject": "string",
    "answer": "string",
    "tier": "string",
    "slot": "int64",
    "model": "string",
    "temperature": "float64",
    "origin": "string",
    "verdict": "string",
    "score": "float64",
}
PROVENANCE: Spec = {
    "model": "string",
    "temperature": "float64",
    "source_index": "int64",
    "origin": "string",
    "verdict": "string",
    "reason": "string",
    "score": "float64",
    "note": "string",
}


def record_spec(style: RecordStyle) -> Spec:
    """Every column a record of this style has, in record order, with its type."""
    fmt = style.format
    if fmt == "alpaca":
        spec: Spec = {"id": "string", "slot": "int64", "tier": "string"} if style.metadata else {}
        spec |= {"instruction": "string", "input": "string", "output": "string"}
        if style.system_prompt:
            spec["system"] = "string"
        if style.metadata:
            spec["provenance"] = PROVENANCE
        return spec
    if fmt == "o1":
        spec = {"Question": "string", "Complex_CoT": "string", "Response": "string"}
    elif fmt == "sharegpt":
        spec = {"conversations": [{"from": "string", "value": "string"}]}
    else:
        turn = {"role": "string", "content": "string"}
        if style.reasoning_field:
            turn["reasoning_content"] = "string"
        spec = {"messages": [turn]}
    if style.metadata:
        spec["metadata"] = METADATA
    return spec


def yaml_features(spec: Spec) -> list[dict[str, Any]]:
    """The spec as a dataset card's `dataset_info.features` list (the Hub's YAML layout)."""
    features = []
    for name, kind in spec.items():
        if isinstance(kind, str):
            features.append({"name": name, "dtype": kind})
        elif isinstance(kind, list):
            features.append({"name": name, "list": yaml_features(kind[0])})
        else:
            features.append({"name": name, "struct": yaml_features(kind)})
    return features
