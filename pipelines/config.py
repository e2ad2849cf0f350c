"""The job configuration (``config/*.yaml``): what the job does, validated before the graph.

Runner settings are Beam ``PipelineOptions``; everything about feeds, limits and outputs is
here.  Unknown keys are errors, so a typo does not silently fall back to a default.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from transforms.entities import DEFAULT_LABELS, DEFAULT_MODELS, EntitySettings
from transforms.extract import ExtractSettings
from transforms.feeds import PollSettings
from transforms.fetch import FetchSettings
from transforms.http import HttpSettings
from transforms.language import LanguageSettings
from transforms.neardup import NearDupSettings
from transforms.records import FeedSpec, language_code
from transforms.stories import StorySettings
from transforms.story_model import StoryModelSettings
from transforms.story_vectors import MAX_KEYS


class ConfigError(ValueError):
    """A job config that cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_http_url(url: str, relative_ok: bool) -> str:
    try:
        parts = urlsplit(url.strip())
        _ = parts.port
    except ValueError as err:
        raise ValueError(f"{url!r} is not a valid URL: {err}") from None
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{url!r}: scheme {parts.scheme!r} is not allowed, only http(s)")
    if parts.scheme and not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    if not parts.scheme and not relative_ok:
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    return url


class FeedConfig(_Strict):
    url: str = Field(min_length=1, description="feed URL; relative URLs are resolved against feeds_base_url")
    publisher: str = Field(min_length=1)
    language: str | None = Field(default=None, description="ISO 639-1, used when the feed has none")
    poll_interval_s: float = Field(default=300.0, ge=1.0)

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        return _check_http_url(url, relative_ok=True)  # file:, ftp:, data: ... are refused


class HttpConfig(_Strict):
    user_agent: str = "newsbeam/0.1 (+https://github.com/newsbeam/newsbeam)"
    timeout_s: float = Field(default=10.0, gt=0)
    max_bytes: int = Field(default=5_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=1.0, ge=0)
    allow_private_addresses: bool = False
    allowed_hosts: list[str] = Field(
        default_factory=list, description="host names that may resolve to private addresses"
    )
    allowed_networks: list[str] = Field(
        default_factory=list, description="private networks (CIDR) that may be fetched from"
    )

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, networks: list[str]) -> list[str]:
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as err:
                raise ValueError(f"{network!r} is not a network: {err}") from None
        return networks


class FetchConfig(_Strict):
    min_host_delay_s: float = Field(default=1.0, ge=0)
    max_crawl_delay_s: float = Field(default=30.0, ge=0)
    respect_robots: bool = True


class PollingConfig(_Strict):
    min_interval_s: float = Field(default=60.0, ge=1.0, description="no feed is polled more often")
    max_interval_s: float = Field(default=3600.0, ge=1.0, description="no feed waits longer")
    reload_feeds: bool = Field(
        default=True,
        description="streaming runs re-read the feed list from this config file on every tick",
    )

    @model_validator(mode="after")
    def _ordered(self) -> PollingConfig:
        if self.min_interval_s > self.max_interval_s:
            raise ValueError("min_interval_s is larger than max_interval_s")
        return self


class DedupConfig(_Strict):
    url_ttl_days: float = Field(default=30.0, gt=0)
    url_allowed_lateness_s: float = Field(
        default=86400.0,
        ge=0,
        description="a seen URL is freed url_ttl_days plus this after it was kept (event time), "
        "so that a repeat arriving this late is still caught",
    )
    near_duplicates: bool = Field(default=True, description="mark syndicated copies (duplicate_of)")
    near_ttl_days: float = Field(default=7.0, gt=0, description="how long an article is matched against")
    near_key_bits: int = Field(
        default=12,
        ge=0,
        le=24,
        description="LSH band values are hashed into 2**near_key_bits keys per band: more for higher "
        "article rates (smaller keys), fewer for faster pruning of idle keys",
    )
    near_allowed_lateness_s: float = Field(
        default=86400.0,
        ge=0,
        description="how far behind the newest article of its band an article may arrive in a "
        "streaming run and still be compared with everything within the TTL",
    )
    near_exact_check_margin: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="a candidate pair whose estimated Jaccard is this close to deciding otherwise is "
        "checked exactly on shingle fingerprints (0: decide on the MinHash estimates alone)",
    )


class ExtractConfig(_Strict):
    min_words: int = Field(default=50, ge=0)
    max_html_bytes: int = Field(default=5_000_000, ge=1024)
    precision_pass: bool = Field(
        default=True,
        description="a second, precision-oriented trafilatura pass kept when it holds at least half "
        "of the text: +0.006 text F1 on extraction-aeb for about twice the extraction CPU",
    )


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
        default_factory=lambda: dict(DEFAULT_MODELS),
        description="spaCy pipeline per ISO 639-1 language: an installed package that holds one "
        "(a spaCy model package, or one carrying a model directory) or a model directory path",
    )
    rules: bool = Field(
        default=True,
        description="the rule layer over the model's mentions (transforms/entity_rules.py): "
        "trimmed spans, corrected labels, short person names keyed to the full one",
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


_STORY = StorySettings()
_MODEL = StoryModelSettings()


class StoriesConfig(_Strict):
    """Story assignment (``AssignStories``); defaults are ``transforms.story_model.StoryModelSettings``'s
    and ``transforms.stories.StorySettings``'s."""

    enabled: bool = True
    threshold: float | None = Field(
        default=_MODEL.threshold,
        ge=0,
        le=1,
        description="link score an article's best earlier match needs to join its story "
        "(null: the threshold the shipped model was chosen with)",
    )
    sole_threshold: float | None = Field(
        default=_MODEL.sole_threshold,
        ge=0,
        le=1,
        description="link score that suffices when the match is the article's only one reaching it "
        "(null: the shipped model's if threshold is null too, else threshold)",
    )
    window_hours: float = Field(
        default=_MODEL.window_hours, gt=0, description="how far back a story is joined"
    )
    allowed_lateness_hours: float = Field(
        default=_STORY.allowed_lateness_hours,
        ge=0,
        description="how far behind the newest article of a blocking key an article may arrive",
    )
    blocking_entities: int = Field(default=_MODEL.blocking_entities, ge=0, le=MAX_KEYS)
    blocking_terms: int = Field(default=_MODEL.blocking_terms, ge=0, le=MAX_KEYS)
    key_bits: int = Field(
        default=_STORY.key_bits, ge=0, le=24, description="blocking keys are hashed into 2**key_bits keys"
    )
    model_path: str | None = Field(
        default=None, description="a story model weights file (null: the one shipped in the package)"
    )
    model_version: str | None = Field(default=None, description="refuse a weights file of another version")

    @model_validator(mode="after")
    def _some_blocking(self) -> StoriesConfig:
        if self.blocking_entities + self.blocking_terms == 0:
            raise ValueError("blocking_entities + blocking_terms must be at least 1")
        if (
            self.threshold is not None
            and self.sole_threshold is not None
            and self.sole_threshold > self.threshold
        ):
            raise ValueError("sole_threshold must not exceed threshold")
        return self


class WriteConfig(_Strict):
    batch_size: int = Field(default=1000, ge=1)
    max_buffering_s: float = Field(default=60.0, gt=0)


class JobConfig(_Strict):
    output: str = "data"
    follow: bool = Field(default=False, description="poll until stopped (as --follow)")
    feeds_base_url: str | None = None
    feeds: list[FeedConfig] = Field(default_factory=list)
    http: HttpConfig = HttpConfig()
    fetch: FetchConfig = FetchConfig()
    polling: PollingConfig = PollingConfig()
    dedup: DedupConfig = DedupConfig()
    extract: ExtractConfig = ExtractConfig()
    language: LanguageConfig = LanguageConfig()
    entities: EntitiesConfig = EntitiesConfig()
    stories: StoriesConfig = StoriesConfig()
    write: WriteConfig = WriteConfig()

    @field_validator("feeds_base_url")
    @classmethod
    def _http_base(cls, url: str | None) -> str | None:
        return None if url is None else _check_http_url(url, relative_ok=False)

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
        http = self.http.model_dump()
        http["allowed_hosts"] = tuple(host.lower().rstrip(".") for host in self.http.allowed_hosts)
        http["allowed_networks"] = tuple(self.http.allowed_networks)
        return HttpSettings(**http)

    def near_dup_settings(self) -> NearDupSettings:
        return NearDupSettings(
            ttl_s=self.dedup.near_ttl_days * 86400,
            allowed_lateness_s=self.dedup.near_allowed_lateness_s,
            key_bits=self.dedup.near_key_bits,
            verify_margin=self.dedup.near_exact_check_margin,
        )

    def poll_settings(self) -> PollSettings:
        return PollSettings(self.polling.min_interval_s, self.polling.max_interval_s)

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
            rules=self.entities.rules,
        )

    def story_settings(self) -> StorySettings:
        fields = self.stories.model_dump(exclude={"enabled", "allowed_lateness_hours", "key_bits"})
        return StorySettings(
            StoryModelSettings(**fields), self.stories.allowed_lateness_hours, self.stories.key_bits
        )


Location = tuple[str | int, ...]
MAX_YAML_VALUES = 100_000  # after alias expansion: a "billion laughs" in YAML is refused


def _where(source: str, lines: dict[Location, int] | None, loc: Location) -> str:
    """``file:line`` of the deepest part of ``loc`` the YAML has (a missing key: its parent)."""
    if lines:
        for end in range(len(loc), -1, -1):
            if loc[:end] in lines:
                return f"{source}:{lines[loc[:end]]}"
    return source


def _dotted(loc: Location) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_config(data: Any, source: str = "config", lines: dict[Location, int] | None = None) -> JobConfig:
    """Validate a parsed config; ``lines`` maps key paths to YAML lines for the messages."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{_where(source, lines, ())}: the top level must be a mapping")
    try:
        return JobConfig.model_validate(data)
    except ValidationError as err:
        problems = [
            f"  {_where(source, lines, tuple(error['loc']))}: {_dotted(tuple(error['loc']))}: {error['msg']}"
            for error in err.errors()
        ]
        raise ConfigError(f"{source}: invalid job config\n" + "\n".join(problems)) from None


def _yaml_lines(root: yaml.Node, source: str) -> dict[Location, int]:
    """The 1-based line of every key path; refuses duplicate keys and alias bombs."""
    lines: dict[Location, int] = {}
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:  # values after alias expansion, memoised per node
        if id(node) not in sizes:
            sizes[id(node)] = 1
            if isinstance(node, yaml.MappingNode):
                sizes[id(node)] += sum(size(key) + size(value) for key, value in node.value)
            elif isinstance(node, yaml.SequenceNode):
                sizes[id(node)] += sum(size(item) for item in node.value)
        return sizes[id(node)]

    if size(root) > MAX_YAML_VALUES:
        raise ConfigError(f"{source}: more than {MAX_YAML_VALUES} values once aliases are expanded")

    def walk(node: yaml.Node, path: Location, seen: set[int]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in seen:  # an alias: its lines are those of the anchor
            return
        seen = seen | {id(node)}
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in keys:
                    raise ConfigError(f"{source}:{key.start_mark.line + 1}: duplicate key {name!r}")
                keys.add(name)
                lines[(*path, name)] = key.start_mark.line + 1
                walk(value, (*path, name), seen)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index), seen)

    walk(root, (), set())
    return lines


def load_config(path: str | Path, **overrides: Any) -> JobConfig:
    """Read and validate a YAML job config; ``overrides`` (not None) replace top-level keys.

    Every problem is reported as ``file:line: key.path: what is wrong``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        lines = _yaml_lines(root, str(path)) if root is not None else {}
        data = yaml.safe_load(text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read: {err}") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = " ".join(part for part in (err.context, err.problem) if part)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if isinstance(data, dict):
        data.update({key: value for key, value in overrides.items() if value is not None})
    return parse_config(data, str(path), lines)


@dataclass(frozen=True)
class ConfigFeeds:
    """The feed list of a config file, read again at each call: ``PollFeeds``' ``reload``.

    Picklable, so it travels to the workers; the file must be readable there at ``path``
    (true for local runs; on a cluster, mount it or set ``polling.reload_feeds: false``).
    """

    path: str
    feeds_base_url: str | None = None

    def __call__(self) -> list[FeedSpec]:
        return load_config(self.path, feeds_base_url=self.feeds_base_url).feed_specs()
