# sirenpipe: every clip x every ablation -> fit -> quantize -> decode -> score -> tables, figures.
#   snakemake --cores 8 --resources gpu=1             (local)
#   snakemake --profile profiles/slurm                (SLURM cluster)
from snakemake.utils import min_version, validate

min_version("9.0")

# The default configuration, unless the command line names one (--configfile): Snakemake would
# merge the two, and the default's datasets and ablations would leak into the other config.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/codec.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    input:
        "results/tables/scores.parquet",
        "results/tables/summary.parquet",
        "results/tables/summary.md",
        figure_files(),
        paper_files(),
        rate_distortion_files(),
