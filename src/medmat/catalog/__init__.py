"""The project's own catalog of the upstream Med-MAT datasets and aggregated subsets.

>>> from medmat.catalog import load_catalog
>>> cat = load_catalog()
>>> cat.subset("03").modality, cat.subset("03").area, cat.subset("03").task
('CT', 'Lung', 'COVID-19')
>>> cat.dataset(49).modality   # upstream spells it "X-Ray"
'X-ray'

Every value is normalised with :mod:`medmat.taxonomy`; the upstream spelling stays in the
``*_raw`` fields and every correction is listed in ``cat.fixes``.
"""

from __future__ import annotations

from medmat.catalog.model import Catalog, DatasetEntry, Fix, SubsetEntry, load_catalog
from medmat.catalog.query import filter_entries, lattice_counts

__all__ = [
    "Catalog",
    "DatasetEntry",
    "Fix",
    "SubsetEntry",
    "filter_entries",
    "lattice_counts",
    "load_catalog",
]
