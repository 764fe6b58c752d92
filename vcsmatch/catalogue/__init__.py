"""The service catalogue: the service model, Open Referral importers and exporter, crosswalks."""

from vcsmatch.catalogue.crosswalk import Crosswalk, default_crosswalk
from vcsmatch.catalogue.hsds3 import read_hsds3, write_hsds3, write_hsds3_pages
from vcsmatch.catalogue.importing import (
    ImportReport,
    ImportResult,
    Rejection,
    import_file,
    load_catalogue,
)
from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.catalogue.oruk import read_oruk
from vcsmatch.catalogue.outpost import read_outpost

__all__ = [
    "Catalogue",
    "Crosswalk",
    "ImportReport",
    "ImportResult",
    "Rejection",
    "Service",
    "default_crosswalk",
    "import_file",
    "load_catalogue",
    "read_hsds3",
    "read_oruk",
    "read_outpost",
    "write_hsds3",
    "write_hsds3_pages",
]
