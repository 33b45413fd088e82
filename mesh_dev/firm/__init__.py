"""A deterministic synthetic asset manager: reference data, vendor feeds, Aladdin CDC, Salesforce.

``generate_firm(out_dir, scale, seed, end_date)`` writes the firm's files and returns its manifest.
Pure Python (numpy, orjson); nothing here imports Dagster.
"""

from mesh_dev.firm.generator import generate_firm
from mesh_dev.firm.scales import SCALES, FirmScale

__all__ = ["SCALES", "FirmScale", "generate_firm"]
