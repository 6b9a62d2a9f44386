"""The workflow on a real single-node SLURM cluster, through profiles/slurm.

A session fixture brings the cluster up with scripts/slurm-up.sh (munge, slurmctld, slurmd, one
fake GPU) and tears it down with scripts/slurm-down.sh by the PIDs it started, also when a test
fails; it then puts /etc/slurm/{slurm,gres}.conf back as they were (absent, on a machine without
SLURM), so that no SLURM client, and no `snakemake` (whose SLURM plugin runs `scontrol show
config` at start-up), waits for a controller that is gone. A tiny config (tests/test_workflow.py's
TINY with one readable clip and one broken file) then runs through `--profile profiles/slurm` to
completion, bounded by `timeout -s INT`, while the same config runs locally for comparison: the
metric values and the bitstreams must be the same. The job counts of the profile's grouping are
checked by dry runs, which need no cluster.

Needs root and the Debian SLURM packages (slurm-up.sh installs them with apt-get); skipped
otherwise. About 4 minutes on 2 busy cores, mostly the executor's status polling (36-68 s for
each of the 4 dependency levels here).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from conftest import children_get_default_sigint, end_group, speech_like
from test_workflow import REPO, SNAKEMAKE, TINY, write_config

pytestmark = pytest.mark.slow

PROFILE = REPO / "profiles" / "slurm"
SLURM_UP = REPO / "scripts" / "slurm-up.sh"
SLURM_DOWN = REPO / "scripts" / "slurm-down.sh"
SLURM_PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
RUN_LIMIT_S = 720  # `timeout -s INT` for the SLURM run: Snakemake never hangs the CI

SLURM_CONFIG_FILES = (Path("/etc/slurm/slurm.conf"), Path("/etc/slurm/gres.conf"))  # written by slurm-up.sh

# TINY cut down to one readable clip (+ the broken file) and two one-variant ablations, for time:
# 4 dependency levels, one submission each (prepare, fit, evaluate, report). "pe" fits its clips
# batched (rules fit_clips + split_fit); "plain" is a one-clip fit (rule fit) with device cuda,
# which falls back to the CPU with a warning where there is no GPU (clips_per_fit 1: "auto" would
# batch a cuda ablation's short clips), so that the plain fit's GPU request goes through sbatch
# too. tests/test_workflow.py covers the workflow's semantics; the grouping of many clips is
# checked by dry runs below.
CONFIG = copy.deepcopy(TINY)
CONFIG["datasets"]["speech"]["clips"] = 2
CONFIG["ablations"] = [a for a in TINY["ablations"] if a["name"] == "pe"] + [
    {**TINY["ablations"][0], "name": "plain", "variants": ["f0"], "fit": {"device": "cuda", "clips_per_fit": 1}}]
assert TINY["ablations"][0]["preset"] == "siamese-siren" and "clips_per_fit" not in TINY["ablations"][0].get("fit", {})


def say(config: pytest.Config, text: str) -> None:
    """Print past pytest's output capture: the job ids and the tear-down show up in CI logs."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:  # -p no:capture
        print(text, flush=True)
        return
    with capture.global_and_fixture_disabled():
        print(text, flush=True)


def installed(package: str) -> bool:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return result.returncode == 0 and "ok installed" in result.stdout


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: starts munge/slurmctld/slurmd and writes /etc/slurm"
    if shutil.which("dpkg-query") is None:
        return "not a Debian system (no dpkg-query): scripts/slurm-up.sh installs Debian packages"
    missing = [p for p in SLURM_PACKAGES if not installed(p)]
    if missing and shutil.which("apt-get") is None:
        return f"SLURM packages {missing} missing and apt-get unavailable"
    return None




def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.fixture(scope="session")
def slurm_cluster(request, tmp_path_factory):
    """A running single-node cluster; torn down by the PIDs slurm-up.sh recorded, in any case."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("slurm-state")
    pids: dict[str, int] = {}
    saved = {path: path.read_bytes() if path.exists() else None for path in SLURM_CONFIG_FILES}
    try:
        # finished jobs stay visible to scontrol for MinJobAge s: long enough to check them all after the run
        env = {**os.environ, "MIN_JOB_AGE": "3600"}
        up = subprocess.run(["bash", str(SLURM_UP), str(state)], capture_output=True, text=True, timeout=900, env=env)
        pids = {f.stem: int(f.read_text()) for f in state.glob("*.pid")}
        if up.returncode != 0:
            pytest.fail(f"scripts/slurm-up.sh failed ({up.returncode}):\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}")
        say(request.config, f"\n[slurm] cluster up, daemons {pids}\n{up.stdout.strip()}")
        yield state
    finally:
        down = subprocess.run(["bash", str(SLURM_DOWN), str(state)], capture_output=True, text=True, timeout=120)
        survivors = {name: pid for name, pid in pids.items() if alive(pid)}
        restored = restore_config_files(saved, state)
        say(request.config, f"\n[slurm] torn down: {down.stdout.strip() or 'nothing was running'}; "
                            f"daemons still alive: {survivors or 'none'}; {restored}")  # fmt: skip
        assert down.returncode == 0 and not survivors, f"tear-down left {survivors}:\n{down.stderr}"


def restore_config_files(saved: dict[Path, bytes | None], state: Path) -> str:
    """Put the SLURM config files back as they were before slurm-up.sh (a copy of the test's stays
    in the state directory). Left in place, a slurm.conf naming the stopped controller makes every
    SLURM client retry it: `scontrol show config`, which the Snakemake SLURM plugin runs whenever
    snakemake starts, then takes about 9 s, and every later workflow test pays it."""
    done = []
    for path, content in saved.items():
        if path.exists():
            shutil.copy(path, state / path.name)
        if content is None:
            path.unlink(missing_ok=True)
            done.append(f"removed {path}")
        elif not path.exists() or path.read_bytes() != content:
            path.write_bytes(content)
            done.append(f"restored {path}")
    return ", ".join(done) or "SLURM config files unchanged"


def make_workdir(path: Path, config: dict) -> Path:
    (path / "audio").mkdir(parents=True)
    sf.write(path / "audio" / "a-first.wav", speech_like(16000, 1.2, seed=0), 16000, subtype="PCM_16")
    (path / "audio" / "c-broken.wav").write_text("not audio at all\n" * 20)
    write_config(path, config)
    return path


def scontrol_jobs() -> dict[str, dict[str, str]]:
    """Every job the controller still knows (finished ones for MinJobAge s), as key=value dicts."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True, timeout=30).stdout
    jobs = {}
    for line in out.splitlines():
        fields = dict(re.findall(r"(\w[\w/:]*)=(\S*)", line))
        if "JobId" in fields:
            jobs[fields["JobId"]] = fields
    return jobs


def group_of(comment: str) -> str:
    """'rule_fit_fit' -> 'fit', 'rule_evaluate_decode_quantize_score' -> 'evaluate' (the plugin's
    --comment: rule_<group>_<rules> for a group job, rule_<rule>[_wildcards_..] for one job)."""
    return comment.removeprefix("rule_").split("_")[0]


@pytest.fixture(scope="module")
def runs(request, slurm_cluster, tmp_path_factory):
    """The config run through profiles/slurm and, at the same time, locally."""
    local_dir = make_workdir(tmp_path_factory.mktemp("local"), CONFIG)
    slurm_dir = make_workdir(tmp_path_factory.mktemp("slurm"), CONFIG)
    local_log = open(local_dir / "snakemake.out", "w")
    # niced: the SLURM jobs come first, the local run fills the gaps while Snakemake polls SLURM
    local = subprocess.Popen(["nice", "-n", "19", *SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory",
                              str(local_dir), "--cores", "2"], stdout=local_log, stderr=subprocess.STDOUT, cwd=REPO,
                             start_new_session=True)  # fmt: skip
    slurm = None
    try:
        # SIGINT at the limit: `timeout` catches SIGINT itself (so its child starts with the default
        # action even where the suite runs with SIGINT ignored); children_get_default_sigint makes
        # sure of it for `timeout` too. The `finally` kills timeout's process group in any case.
        cmd = ["timeout", "-s", "INT", "-k", "60", str(RUN_LIMIT_S), *SNAKEMAKE, "--profile", str(PROFILE),
               "--snakefile", str(REPO / "Snakefile"), "--directory", str(slurm_dir), "--verbose"]  # fmt: skip
        say(request.config, "[slurm] running: " + " ".join(cmd))
        with children_get_default_sigint():
            slurm = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                     start_new_session=True)
        out, err = slurm.communicate(timeout=RUN_LIMIT_S + 120)
        log = out + err
        (slurm_dir / "snakemake.out").write_text(log)
        run_id = re.search(r"SLURM run ID: (\S+)", log)
        jobs = {i: j for i, j in scontrol_jobs().items() if run_id and j.get("JobName") == run_id.group(1)}
        assert local.wait(timeout=900) == 0, (local_dir / "snakemake.out").read_text()[-5000:]
    finally:
        if slurm is not None:
            end_group(slurm)
        end_group(local)
        local_log.close()
    submitted = dict(re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", log))
    calls = {re.search(r"--comment (\S+)", call).group(1): call.split(" --wrap=")[0]
             for call in re.findall(r"^sbatch call: (sbatch .*)$", log, re.M)}  # fmt: skip
    lines = [f"[slurm] snakemake exit code {slurm.returncode}; jobs that went through sbatch:"]
    for job_id in sorted(submitted, key=int):
        job = jobs.get(job_id, {})
        options = re.sub(r" +", " ", re.sub(r"--(job-name|output|comment) \S+|--parsable|--export=ALL|-D \S+", "",
                                            calls.get(job.get("Comment"), "?")))  # fmt: skip
        lines.append(f"[slurm]   job {job_id}: {job.get('Comment', '?'):45} {job.get('JobState', '?'):10} "
                     f"ran {job.get('RunTime', '?')} cpus={job.get('NumCPUs', '?')} gpus={job.get('TresPerJob', '-')}\n"
                     f"[slurm]       {options.strip()}; log {submitted[job_id]}")  # fmt: skip
    say(request.config, "\n".join(lines))
    return {"log": log, "returncode": slurm.returncode, "jobs": jobs, "submitted": submitted,
            "local": local_dir, "slurm": slurm_dir}  # fmt: skip


def test_run_finished(runs):
    assert runs["returncode"] == 0, runs["log"][-8000:]
    assert re.search(r"(\d+) of \1 steps \(100%\) done", runs["log"])
    assert (runs["slurm"] / "results/tables/scores.parquet").is_file()


def test_jobs_went_through_sbatch_grouped(runs):
    """Every submission is a real SLURM job that completed; this config is small enough for one
    job per group (prepare, fit, evaluate, report)."""
    submitted, jobs = runs["submitted"], runs["jobs"]
    assert submitted, runs["log"][-8000:]
    assert set(submitted) <= set(jobs), f"sbatch job ids unknown to slurmctld: {set(submitted) - set(jobs)}"
    assert all(jobs[i]["JobState"] == "COMPLETED" for i in submitted), {i: jobs[i]["JobState"] for i in submitted}
    groups = Counter(group_of(jobs[i]["Comment"]) for i in submitted)
    assert {"prepare", "fit", "evaluate", "report"} <= set(groups) and set(groups.values()) == {1}, groups


def test_fit_jobs_request_a_gpu_and_no_other_job_does(runs):
    """From both sides: the sbatch command lines Snakemake ran, and what slurmctld recorded. Both
    fit rules are submitted: the plain one-clip `fit` and the batched `fit_clips` (+ split_fit)."""
    calls = re.findall(r"^sbatch call: (sbatch .*)$", runs["log"], re.M)
    assert len(calls) == len(runs["submitted"]), calls
    fit_rules = set()
    for call in calls:
        group = group_of(re.search(r"--comment (\S+)", call).group(1))
        options, wrap = call.split(" --wrap=", 1)
        if group == "fit":
            assert "--gpus=1" in options.split(), options
            # the job's Snakemake runs --target-jobs 'rule:wildcards' for each member job
            fit_rules |= set(re.findall(r"(?<![\w-])(fit|fit_clips|split_fit):dataset=", wrap))
            assert "ablation=plain" not in wrap or re.search(r"(?<![\w-])fit:dataset=speech,ablation=plain,", wrap), wrap
        else:
            assert "--gpus" not in options and "--gres" not in options, options
    assert fit_rules == {"fit", "fit_clips", "split_fit"}, fit_rules
    # the fit group job's --gpus=1 could come from fit_clips alone: the plain fit asks for it too
    member_gpus = {(rule, ablation): gpu for rule, ablation, gpu in re.findall(
        r"^\s*rule (\w+):\n(?:\s+(?!rule )\w+: .*\n)*?\s+wildcards: dataset=speech, ablation=(\w+)\b.*\n"
        r"(?:\s+(?!rule )\w+: .*\n)*?\s+resources: .*?(?:\bgpu=(\d+)|$)", runs["log"], re.M)}  # fmt: skip
    assert member_gpus.get(("fit", "plain")) == "1" and member_gpus.get(("fit_clips", "pe")) == "1", member_gpus
    for job_id in runs["submitted"]:
        job = runs["jobs"][job_id]
        if group_of(job["Comment"]) == "fit":
            assert job.get("TresPerJob") == "gres:gpu:1", job
        else:
            assert "gpu" not in job.get("TresPerJob", ""), job


def files_below(root: Path, *dirs: str) -> set[str]:
    return {str(p.relative_to(root)) for d in dirs for p in (root / d).rglob("*") if p.is_file()}


TIMING = re.compile(r"seconds|_time$|^time|elapsed|runtime")  # wall-clock columns differ between runs


def comparable(table: pd.DataFrame, workdir: Path) -> pd.DataFrame:
    """Every row and value but the timing columns, in a fixed order, the work directory's path
    replaced (it differs between the two runs by construction)."""
    table = table.drop(columns=[c for c in table.columns if TIMING.search(c)])
    for column in table.select_dtypes(include=["object", "string"]).columns:
        table[column] = table[column].map(lambda v: v.replace(str(workdir), "<workdir>") if isinstance(v, str) else v)
    key = [c for c in ("dataset", "clip", "ablation", "variant", "kind") if c in table.columns]
    return table.sort_values(key).reset_index(drop=True)


def test_outputs_equal_a_local_run(runs):
    """Same files, same table rows with the same metric values (timings aside), same bitstream
    bytes: the cluster computes what a local run does (same CPU, seed and threads)."""
    local, slurm = runs["local"], runs["slurm"]
    assert files_below(slurm, "results", "logs") == files_below(local, "results", "logs")
    for table in ("scores", "summary"):
        a = pd.read_parquet(slurm / f"results/tables/{table}.parquet")
        b = pd.read_parquet(local / f"results/tables/{table}.parquet")
        assert list(a.columns) == list(b.columns) and list(a.dtypes) == list(b.dtypes), table
        pd.testing.assert_frame_equal(comparable(a, slurm), comparable(b, local), check_exact=True, obj=table)
    a = pd.read_parquet(slurm / "results/tables/scores.parquet")
    assert (a.status == "ok").sum() >= 1 and list(a[a.status == "failed"]["clip"]) == ["c-broken"]
    assert set(a[a.status == "ok"].ablation) >= {"pe", "plain", "opus"}, set(a.ablation)
    streams = sorted(p.relative_to(slurm) for p in (slurm / "results").rglob("*.sirn"))
    assert {p.parts[2] for p in streams} == {"pe", "plain"}, streams
    for path in streams:
        assert (slurm / path).read_bytes() == (local / path).read_bytes(), f"{path}: bitstreams differ"


# --- grouping: submissions counted by dry runs (no cluster needed) ------------------------------


def submissions(workdir: Path, *variants: list[str]) -> list[Counter]:
    """SLURM jobs that `--profile profiles/slurm` dry runs (with extra arguments) would submit,
    per group (or rule); the dry runs run side by side."""
    cmd = [*SNAKEMAKE, "--profile", str(PROFILE), "--snakefile", str(REPO / "Snakefile"), "--directory",
           str(workdir), "-n", "--nolock"]  # fmt: skip
    procs = []
    try:
        for args in variants:
            procs.append(subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          cwd=REPO, start_new_session=True))  # fmt: skip
        outputs = [proc.communicate(timeout=600) for proc in procs]
    finally:
        for proc in procs:
            end_group(proc)
    counts = []
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, out[-3000:] + err[-3000:]
        single = [rule for rule in re.findall(r"^rule (\S+):", out, re.M) if rule != "all"]  # members are indented
        counts.append(Counter(re.findall(r"Group job (\S+) ", out)) + Counter(single))
    return counts


def test_grouping_cuts_submissions(tmp_path):
    """With the profile's --group-components K, the jobs of a group go out K units per submission."""
    clips = 20
    (tmp_path / "audio").mkdir()
    rng = np.random.default_rng(0)
    for i in range(clips):
        sf.write(tmp_path / "audio" / f"clip{i:02d}.wav", 0.1 * rng.standard_normal(4000), 8000, subtype="PCM_16")
    write_config(tmp_path, {**TINY, "datasets": {"many": {"type": "folder", "kind": "speech", "glob": "audio/*.wav",
                                                          "clips": clips, "min_duration": 0.1}}})  # fmt: skip
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    per_job = dict(entry.split("=") for entry in profile["group-components"])
    units, grouped = submissions(tmp_path, ["--group-components", *(f"{group}=1" for group in per_job)], [])
    # siamese: one fit per clip; pe fits 2 clips together, its split_fit jobs in the same submission
    assert TINY["ablations"][1]["fit"]["clips_per_fit"] == 2
    assert units["prepare"] == clips and units["fit"] == clips + clips // 2, units
    assert grouped == Counter({group: -(-units[group] // int(k)) for group, k in per_job.items()}), (grouped, units)
    assert grouped["report"] == 1 and sum(grouped.values()) < sum(units.values()) / 10
    print(f"{clips} clips: {sum(units.values())} submissions ungrouped {dict(units)}, "
          f"{sum(grouped.values())} with the profile {dict(grouped)}")
    # the status polling works without accounting: squeue, and MinJobAge (300 s here) >= 3x init
    assert profile["slurm-status-command"] == "squeue" and profile["slurm-init-seconds-before-status-checks"] * 3 <= 300
