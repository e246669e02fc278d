"""Process settings from the environment (DESIGN §3). Built once in the entry point and passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGED_CONFIG_DIR = Path(__file__).resolve().parent / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    amqp_url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/", validation_alias="AMQP_URL")
    mongo_url: str | None = Field(default=None, validation_alias="MONGO_URL")
    mongo_db: str = Field(default="hotline", validation_alias="MONGO_DB")
    http_host: str = Field(default="127.0.0.1", validation_alias="HTTP_HOST")
    http_port: int = Field(default=8080, ge=0, le=65535, validation_alias="HTTP_PORT")
    #: the default is for development only (set JWT_SECRET, >= 32 bytes, in production)
    jwt_secret: SecretStr = Field(
        default=SecretStr("dev-only-not-a-secret-set-JWT_SECRET-in-production"), validation_alias="JWT_SECRET"
    )
    config_dir: Path = Field(default=PACKAGED_CONFIG_DIR, validation_alias="CONFIG_DIR")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["json", "console", "auto"] = Field(default="auto", validation_alias="LOG_FORMAT")
    tz_name: str = Field(default="Asia/Shanghai", validation_alias="TZ_NAME")

    #: prefix for every exchange and queue name (tests and side-by-side installs use their own)
    amqp_prefix: str = Field(default="", validation_alias="AMQP_PREFIX")
    #: intake batch: at most this many messages, waiting at most ``batch_wait_ms`` for more
    batch_size: int = Field(default=200, ge=1, le=1000, validation_alias="BATCH_SIZE")
    batch_wait_ms: int = Field(default=50, ge=0, le=5000, validation_alias="BATCH_WAIT_MS")
    prefetch: int = Field(default=400, ge=1, le=5000, validation_alias="PREFETCH")
    #: intake batches in flight at once per queue (overlaps the database writes of one with the
    #: publisher confirms of another)
    intake_concurrency: int = Field(default=2, ge=1, le=32, validation_alias="INTAKE_CONCURRENCY")
    delivery_limit: int = Field(default=5, ge=1, le=100, validation_alias="DELIVERY_LIMIT")
    max_body_bytes: int = Field(default=256 * 1024, validation_alias="MAX_BODY_BYTES")
    #: an unsent outbox entry older than this is re-published by the relay
    outbox_grace_s: float = Field(default=10.0, gt=0, validation_alias="OUTBOX_GRACE_S")
    #: where the embedded SecantusDB keeps its files when MONGO_URL is unset
    data_dir: Path = Field(default=Path("var"), validation_alias="DATA_DIR")
