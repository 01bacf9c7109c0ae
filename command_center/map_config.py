"""The `map:` configuration: an optional street basemap drawn under the grids.

A real city often runs its own tile server (raster tiles, or vector tiles with a style);
the pages then draw it as the lowest layer of their MapLibre maps. None is the default:
the hall may be offline, and the maps show the city's own outlines on a plain background.

The basemap's origin is added to the pages' Content-Security-Policy (api/headers.py), so
it is checked here to be a bare http(s) origin: a URL whose host could carry a space or a
`;` would otherwise write new directives into that header.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")  # urlsplit lower-cases it
_IPV6 = re.compile(r"^[0-9a-f:.]+$")
# What a URL template may hold besides MapLibre's placeholders: no quotes, spaces or angle brackets.
_URL_CHARS = re.compile(r"^[A-Za-z0-9._~:/?#\[\]@!$&()*+,;=%{}-]+$")
RASTER_PLACEHOLDERS = ("{z}", "{x}", "{y}")


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of an http(s) URL; ValueError says what is wrong with it."""
    if not _URL_CHARS.match(url):
        raise ValueError("the URL has characters a URL may not hold (spaces, quotes, <>)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("expected an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL may not carry a user name or password")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the URL's port is not a number from 1 to 65535") from None
    host = parts.hostname or ""
    if not (_HOST.match(host) or _IPV6.match(host)):
        raise ValueError(f"not a host name we can use: {host!r}")
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port else "")


def _http_url(value: str) -> str:
    origin_of(value)
    return value.rstrip("/")


# An http(s) URL (e.g. server.public_url); a trailing slash is dropped.
HttpUrl = Annotated[str, AfterValidator(_http_url)]


class BasemapConfig(BaseModel):
    """Tiles from the city's own server: raster tiles fully; vector through a style JSON URL."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["raster", "vector"] = Field(
        default="raster", description="raster: a tile URL template; vector: a MapLibre style JSON URL"
    )
    url: str = Field(
        description="raster: https://tiles.example/{z}/{x}/{y}.png ({z}, {x}, {y} required); vector: the style's URL"
    )
    attribution: str = Field(
        default="", max_length=300, description="shown on the map (plain text, e.g. © OpenStreetMap)"
    )
    min_zoom: float = Field(default=0, ge=0, le=24)
    max_zoom: float = Field(
        default=19, ge=0, le=24, description="the tiles' deepest zoom (MapLibre scales past it)"
    )
    tile_size: Literal[256, 512] = Field(default=256, description="raster tiles' size in pixels")

    @field_validator("url")
    @classmethod
    def _usable_url(cls, value: str, info: ValidationInfo) -> str:
        origin_of(value)
        missing = [p for p in RASTER_PLACEHOLDERS if p not in value]
        if info.data.get("kind", "raster") == "raster" and missing:
            raise ValueError(
                f"a raster tile URL needs {', '.join(missing)} (e.g. https://tiles.example/{{z}}/{{x}}/{{y}}.png)"
            )
        return value

    @model_validator(mode="after")
    def _zooms(self) -> BasemapConfig:
        if self.min_zoom > self.max_zoom:
            raise ValueError("min_zoom is above max_zoom")
        return self

    @property
    def origin(self) -> str:
        return origin_of(self.url)


class MapConfig(BaseModel):
    """What the pages' maps draw besides the city's outlines."""

    model_config = ConfigDict(extra="forbid")

    basemap: BasemapConfig | None = Field(default=None, description="none: the offline map, outlines only")


def basemap_origins(config: MapConfig) -> list[str]:
    """Origins the pages must be allowed to load tiles (and a vector style) from."""
    return [config.basemap.origin] if config.basemap is not None else []
