"""One model endpoint under an alias: where it is, how to reach it, what it costs.

Apart from the agents' settings (`core.config`) because it is what the model layer reads: the
registry builds its clients from it, and nothing in it is about the pipeline.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reasonmed.core.config_load import USE_ENV_HINT, PathProblems, find_secret_like

_STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KNOWN_PROVIDERS = ("openai", "azure")


class ModelSpec(BaseModel):
    """One model endpoint under an alias; agents refer to it by that alias."""

    model_config = _STRICT

    model: str = Field(min_length=1, description="the endpoint's model name")
    base_url: str | None = None
    api_key_env: str | None = Field(None, description="NAME of the env var holding the key")
    provider: str = Field("openai", min_length=1)
    client: Literal["sdk", "http"] = Field(
        "sdk",
        description="sdk: ChatOpenAI (langchain-openai); http: the lean aiohttp client "
        "(llm/wire_client.py), about 7x less client CPU per request; same requests",
    )
    max_concurrency: int = Field(16, ge=1, description="requests in flight to this alias")
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(5, ge=0, description="transport retries, done by our code")
    price_input_per_mtok: float | None = Field(None, ge=0)
    price_output_per_mtok: float | None = Field(None, ge=0)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    structured_output: Literal[
        "auto", "json_schema", "json_object_schema", "json_object", "none"
    ] = Field(
        "none",
        description="how the verifier, ranker and judge ask this endpoint for JSON: json_schema "
        "sends their output's JSON schema as response_format (vLLM, SGLang, llama.cpp's "
        "llama-server, OpenAI), json_object_schema sends it in llama-cpp-python's form "
        "({type: json_object, schema}), json_object asks for any JSON object, auto tries them in "
        "that order and steps down (once per alias and process) when the server refuses one, "
        "none sends nothing",
    )
    azure_endpoint: str | None = None
    api_version: str | None = None
    azure_deployment: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _no_secrets(cls, value: Any) -> Any:
        problems = list(find_secret_like(value, ""))
        if problems:
            raise PathProblems(problems)
        return value

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                f"must be an environment variable NAME (like OPENAI_API_KEY); {USE_ENV_HINT}"
            )
        return value

    @field_validator("base_url", "azure_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _provider_fields(self) -> ModelSpec:
        problems: list[tuple[str, str]] = []
        azure_fields = ("azure_endpoint", "api_version", "azure_deployment")
        if self.provider == "azure":
            for name in ("azure_endpoint", "api_version", "api_key_env"):
                if getattr(self, name) is None:
                    problems.append((name, "required when provider is 'azure'"))
            if self.base_url is not None:
                problems.append(("base_url", "not used with provider 'azure'; use azure_endpoint"))
        else:
            for name in azure_fields:
                if getattr(self, name) is not None:
                    problems.append((name, "only used with provider 'azure'"))
        if self.provider == "openai" and self.base_url is None and self.api_key_env is None:
            problems.append(("api_key_env", "required without base_url (that is api.openai.com)"))
        if self.client == "http" and self.provider != "openai":
            problems.append(
                ("client", "'http' only speaks to OpenAI-compatible endpoints (provider 'openai')")
            )
        if self.provider not in _KNOWN_PROVIDERS and self.extra_body:
            problems.append(("extra_body", "only supported for providers 'openai' and 'azure'"))
        if self.provider not in _KNOWN_PROVIDERS and self.structured_output != "none":
            problems.append(
                ("structured_output", "only supported for providers 'openai' and 'azure'")
            )
        if problems:
            raise PathProblems(problems)
        return self
