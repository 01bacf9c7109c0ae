"""The city: five-level areas with 15-digit codes, grid workers, and point → grid lookup."""

from dispatch.city.codes import LEVELS, Level, level_of, make_code, parent_of
from dispatch.city.generator import generate_city
from dispatch.city.index import GridIndex, Located
from dispatch.city.model import Area, City, LocalFrame, Worker

__all__ = [
    "LEVELS",
    "Area",
    "City",
    "GridIndex",
    "Level",
    "LocalFrame",
    "Located",
    "Worker",
    "generate_city",
    "level_of",
    "make_code",
    "parent_of",
]
