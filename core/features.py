"""The feature contract: names, order, units and physically possible ranges.

One definition serves the ingest data contract, the serving validation and the docs. The
ranges are what is *possible*, deliberately wider than what the 1990 census data shows, so a
real but unusual block group is served while a unit mix-up or 1e308 is refused.
"""

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    minimum: float
    maximum: float


FEATURES: Final[tuple[Feature, ...]] = (
    Feature("MedInc", "median income in the block group, $10k", 0.0, 50.0),
    Feature("HouseAge", "median house age, years", 0.0, 200.0),
    Feature("AveRooms", "average rooms per household", 0.0, 1_000.0),
    Feature("AveBedrms", "average bedrooms per household", 0.0, 500.0),
    Feature("Population", "block group population", 0.0, 100_000.0),
    Feature("AveOccup", "average household members", 0.0, 5_000.0),
    Feature("Latitude", "block group latitude, degrees (California)", 32.0, 42.5),
    Feature("Longitude", "block group longitude, degrees (California)", -125.0, -114.0),
)

FEATURE_NAMES: Final[tuple[str, ...]] = tuple(f.name for f in FEATURES)

TARGET: Final[Feature] = Feature(
    "median_house_value", "median house value, $100k (capped at 5.00001)", 0.0, 10.0
)
