"""Clip catalogue: which audio clips the workflow encodes, found fast enough for parse time.

discover(spec, duration) lists a dataset's candidates (type demo, librispeech, gtzan or folder)
and returns a seeded, stable selection of ClipSources; probe() checks one is usable
(probe_all() for many, cached);
load_source() reads it into a Clip.
"""

from . import demo, sources  # noqa: F401  (register the dataset types)
from .catalog import DATASET_TYPES, Candidate, ClipSource, dataset_type, discover, selection_rank
from .loading import load_source, probe, probe_all

__all__ = ["DATASET_TYPES", "Candidate", "ClipSource", "dataset_type", "discover", "load_source", "probe", "probe_all",
           "selection_rank"]
