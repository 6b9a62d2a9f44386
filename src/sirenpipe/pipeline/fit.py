"""Stage `fit` (one clip) and stages `fit_clips` + `split_fit` (several clips of one ablation in
one batched model, for families that can: unpacked into the same per-clip files).

A checkpoint holds the model config, its parameters, the fit's final settings (what freezing it
needs: the latent grid's adapted rate weight) and the clip facts the quantizer needs (peak scale,
sample rate, sample count), so quantizing does not read the clip again.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from .. import __version__
from ..atomic import atomic_path, write_json
from ..audio import Clip, load_clip
from ..families import budget_bytes, family_of
from ..models import config_from_dict


def fit_clip(clip_wav, ablation: dict, out_checkpoint, out_history, threads: int = 1) -> None:
    torch.set_num_threads(max(1, threads))
    clip = load_clip(clip_wav)
    config = config_from_dict(ablation["model"])
    family = family_of(config)
    target = ablation.get("fit_target") or {}  # the stream a fit that aims at the rate aims at
    budget = budget_bytes(target["kbps"], len(clip.samples), clip.sample_rate) if target else None
    result, _ = family.fit_within(clip, config, family.fit_config(ablation["fit"]), _fit_quant(family, ablation), budget,
                                  target.get("preset"), progress=True)
    _save_fit(config.to_dict(), _fit_entry(result, clip, ablation), out_checkpoint, out_history)
    print(f"fit: {result.steps} steps in {result.seconds:.1f} s on {result.device}, final loss {result.final_loss:.3e}")


def fit_clips(clip_wavs: list, ablation: dict, out_batch, threads: int = 1) -> None:
    """Fit several clips of one ablation together (the family's fit_many: one batched model per
    group of equal-length clips) and store every clip's parameters and history in one file,
    which split_fit() unpacks into the per-clip files fit_clip() would have written."""
    torch.set_num_threads(max(1, threads))
    config = config_from_dict(ablation["model"])
    family = family_of(config)
    clips = {Path(w).stem: load_clip(w) for w in clip_wavs}
    entries = {}
    by_shape = {}
    for name, clip in clips.items():  # clips fitted together share a length and a sample rate
        by_shape.setdefault((len(clip.samples), clip.sample_rate), []).append(name)
    for names in by_shape.values():
        results = family.fit_many([clips[n] for n in names], config, family.fit_config(ablation["fit"]),
                                  _fit_quant(family, ablation), progress=True)
        for name, result in zip(names, results):
            entries[name] = _fit_entry(result, clips[name], ablation, together=len(names))
        print(f"fit: {len(names)} clips together, {results[0].steps} steps in {results[0].seconds:.1f} s "
              f"on {results[0].device}")
    with atomic_path(out_batch) as tmp:
        torch.save({"model": config.to_dict(), "clips": entries}, tmp)


def split_fit(batch, clip: str, out_checkpoint, out_history) -> None:
    saved = torch.load(batch, map_location="cpu", weights_only=True)
    _save_fit(saved["model"], saved["clips"][clip], out_checkpoint, out_history)


def load_checkpoint(path) -> tuple:
    """(the fit: its .model on the CPU and its final settings .config, the clip facts
    {peak_scale, sample_rate, num_samples}) from a fit's checkpoint."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    config = config_from_dict(saved["model"])
    family = family_of(config)
    model = family.build_model(config, saved["clip"]["num_samples"])
    model.load_state_dict(saved["state_dict"])
    return SimpleNamespace(model=model.eval(), config=family.fit_config(saved["fit"])), saved["clip"]


def _fit_quant(family, ablation: dict):
    return family.stream_config(ablation["fit_quant"]) if ablation.get("fit_quant") else None


def _fit_entry(result, clip: Clip, ablation: dict, together: int = 1) -> dict:
    """A fit's parameters, its final settings, its clip's facts and its history. `seconds` is this
    clip's share of the wall time (the batched fit's time over the clips fitted together)."""
    history = {"seed": result.seed, "steps": result.steps, "seconds": result.seconds / together,
               "clips_together": together, "device": result.device, "final_loss": result.final_loss,
               "loss_history": result.loss_history, "fit": result.config.to_dict(), "fit_quant": ablation.get("fit_quant"),
               "estimated_weight_bits": result.rate_bits, "library_version": __version__}
    if result.rate_history is not None:
        history["rate_history"] = result.rate_history
    facts = {"peak_scale": float(clip.peak_scale), "sample_rate": int(clip.sample_rate),
             "num_samples": len(clip.samples)}
    return {"state_dict": result.model.state_dict(), "fit": result.config.to_dict(), "clip": facts, "history": history}


def _save_fit(model: dict, entry: dict, out_checkpoint, out_history) -> None:
    with atomic_path(out_checkpoint) as tmp:
        torch.save({"model": model, "state_dict": entry["state_dict"], "fit": entry["fit"], "clip": entry["clip"]}, tmp)
    write_json(out_history, entry["history"])
