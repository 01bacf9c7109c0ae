"""The city: five-level areas with 15-digit codes, grid workers, and point → grid lookup."""

from dispatch.city.codes import LEVELS, Level, level_of, make_code, parent_of
from dispatch.city.generator import generate_city, load_or_generate
from dispatch.city.geojson import city_to_geojson, load_geojson
from dispatch.city.index import GridIndex, Located
from dispatch.city.model import Area, City, LocalFrame, Worker
from dispatch.city.persist import load_saved_city, save_city
from dispatch.city.validate import Problem, Report, Tolerance, build_city, validate_map

__all__ = [
    "LEVELS",
    "Area",
    "City",
    "GridIndex",
    "Level",
    "LocalFrame",
    "Located",
    "Problem",
    "Report",
    "Tolerance",
    "Worker",
    "build_city",
    "city_to_geojson",
    "generate_city",
    "level_of",
    "load_geojson",
    "load_or_generate",
    "load_saved_city",
    "make_code",
    "parent_of",
    "save_city",
    "validate_map",
]
