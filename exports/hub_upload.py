"""`--push-to-hub`: the dataset directory's card and Parquet shards, uploaded in one commit.

The token comes from `HF_TOKEN` and goes only to `huggingface_hub`: it is never written to a
file, printed or logged, and an upload error is re-raised with the token blanked out and without
the original exception chained (whose text could quote a request). The endpoint is the client's
own (`HF_ENDPOINT`, https://huggingface.co by default).
"""

from __future__ import annotations

import os
from pathlib import Path

from reasonmed.exports.hf_extra import import_extra

TOKEN_ENV = "HF_TOKEN"
# The Hub reads the Parquet shards (the card's `configs` point at them); the saved Arrow copy is
# for `load_from_disk` and would only double the upload.
UPLOADED = ["README.md", "data/*.parquet"]


class HubUploadError(RuntimeError):
    """The Hub refused or failed the upload; the message never holds the token."""


def hub_token() -> str:
    """The token to push with, read from the environment."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ValueError(
            f"--push-to-hub needs a Hugging Face token with write access in ${TOKEN_ENV}"
        )
    return token


def scrub(text: str, token: str) -> str:
    """`text` with every occurrence of the token replaced."""
    return text.replace(token, "***") if token else text


def push_dataset(folder: Path, repo_id: str, *, private: bool, token: str, message: str) -> str:
    """Create the dataset repo if needed (`private` applies only then) and upload the folder;
    return the repo's URL."""
    hub = import_extra("huggingface_hub", "--push-to-hub")
    try:
        api = hub.HfApi(token=token)
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="dataset",
            allow_patterns=UPLOADED,
            commit_message=message,
        )
    except Exception as exc:
        detail = scrub(f"{type(exc).__name__}: {exc}", token)
        raise HubUploadError(f"upload of {folder} to {repo_id} failed: {detail}") from None
    return str(url)
