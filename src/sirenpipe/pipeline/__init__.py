"""The workflow's stages as plain functions of paths and settings, one module per stage.

Each Snakemake script (workflow/scripts/) only unpacks snakemake.input/output/params and calls
one function here, so every stage can be run and tested without Snakemake. Every output is
written atomically.

- :mod:`.config`: what the Snakefile needs at parse time (ablations, the clip catalogue, the
  vocabularies); the only module ``workflow/rules/common.smk`` imports, so it stays light.
- :mod:`.io`: job logs, JSON files, the error guard of a job.
- :mod:`.prepare`, :mod:`.fit`, :mod:`.quantize`, :mod:`.decode`, :mod:`.score`,
  :mod:`.baseline`, :mod:`.collect`, :mod:`.figures`, :mod:`.paper`: the stages.
- :mod:`.rows`: the one layout of a table row.

Nothing is imported here, so that ``import sirenpipe.pipeline.config`` stays cheap.
"""
