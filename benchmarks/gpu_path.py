"""The GPU path, end to end on one clip: what CI (CPU only) cannot run.

    python -m benchmarks.gpu_path --clip speech.wav [--steps 300] [--paper-clip 10s.wav]

On CUDA (exits 1 without it): a plain fit with device auto; a batched fit of 4 clips (fit_many,
the workflow's clips_per_fit) against the same clips fitted one by one over 20 steps (SIREN fits
amplify rounding, so longer ones drift apart); a quantization-aware fit
whose stream, decoded on the CPU, must equal the fitted model's quantized forward pass (the
integer codes the GPU's fake quantizer trained with against the CPU encoder's); bf16 autocast; a
torch.compile'd fit. Prints one line per check with its measure and PASS/FAIL, and the step
times of the same fit on CUDA and on the CPU (a ratio from one run). The summary (a table of the
checks) goes to docs/results/gpu_path.md (--summary PATH elsewhere; a --device cpu trial only prints it).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from . import common

NAME = "gpu_path"
TITLE = "The GPU path and the GPU targets"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.{NAME}", description=__doc__.splitlines()[0])
    p.add_argument("--clip", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16384)
    p.add_argument("--device", default="cuda", help="cpu: try the script itself on a machine without a GPU")
    p.add_argument("--paper-clip", default=None, help="a file of 10 s or more: also time the GPU targets (below)")
    p.add_argument("--paper-steps", type=int, default=2500)
    common.add_summary_option(p, NAME)
    args = common.parse_args(p, argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 1
    from sirenpipe.audio import load_clip
    from sirenpipe.codec import QuantConfig, compress
    from sirenpipe.codec.quantize import fake_quantize_state, quantize_state
    from sirenpipe.decoder import decompress, synthesize
    from sirenpipe.fit import FitConfig, fit, fit_many
    from sirenpipe.fit.trainer import time_grid
    from sirenpipe.models import model_config

    clip = load_clip(args.clip, sample_rate=22050, duration=5.0)
    x = clip.samples
    preset = model_config("siamese-siren")
    base = dict(steps=args.steps, batch_size=args.batch_size, seed=0)
    checks = []  # (name, passed, measure)

    def check(name, ok, measure):
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {measure}", flush=True)
        checks.append((name, bool(ok), measure))

    def timed(device, **options):
        start = time.perf_counter()
        r = fit(x, preset, FitConfig(**{**base, "device": device, **options}), progress=False,
                quant=options.get("quant_aware") and QuantConfig(5, True) or None)
        return r, time.perf_counter() - start

    print(torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU", torch.__version__, flush=True)
    gpu, gpu_s = timed("auto")
    check("fit on device auto runs on cuda", gpu.device.startswith("cuda") and gpu.final_loss < 0.5 * gpu.loss_history[0],
          f"device {gpu.device}, loss {gpu.loss_history[0]:.3e} -> {gpu.final_loss:.3e}, {gpu_s:.1f} s")
    cpu, cpu_s = timed("cpu", steps=max(20, args.steps // 10))
    cpu_step = cpu_s / max(20, args.steps // 10)
    step_times = (f"Step time of the same fit: cuda {gpu_s / args.steps * 1e3:.1f} ms, cpu {cpu_step * 1e3:.1f} ms "
                  f"({torch.get_num_threads()} threads): {cpu_step / (gpu_s / args.steps):.0f}x (one run)")
    print(f"      {step_times}", flush=True)

    segments = [x[i * len(x) // 4 : (i + 1) * len(x) // 4] for i in range(4)]
    segments = [s[: min(map(len, segments))] / np.abs(s).max() for s in segments]
    short = FitConfig(steps=20, batch_size=args.batch_size, seed=0, device=args.device, check_every=10)
    batched = fit_many(segments, preset, short, progress=False)
    single = [fit(s, preset, short, progress=False) for s in segments]
    loss_gap = max(np.max(np.abs(np.array(b.loss_history) / np.array(s.loss_history) - 1)) for b, s in zip(batched, single))
    weight_gap = max(float((p - q).abs().max()) for b, s in zip(batched, single)
                     for p, q in zip(b.model.parameters(), s.model.parameters()))
    check("batched fit of 4 clips equals 4 single fits (20 steps)", loss_gap < 1e-3 and weight_gap < 1e-4,
          f"largest relative loss difference {loss_gap:.1e}, largest weight difference {weight_gap:.1e}")

    quant = QuantConfig(5, True)
    qat, _ = timed(args.device, quant_aware=True)
    data = compress(qat.model, sample_rate=clip.sample_rate, num_samples=len(x), peak_scale=1.0, quant=quant)
    stream = decompress(data)
    on_gpu = {k: v.to(args.device) for k, v in qat.model.state_dict().items()}
    codes_gpu = quantize_state({k: v for k, v in on_gpu.items()}, quant)
    codes_cpu = quantize_state(qat.model.state_dict(), quant)
    same_codes = all(np.array_equal(getattr(codes_gpu[k], "values", codes_gpu[k]), getattr(codes_cpu[k], "values", codes_cpu[k]))
                     for k in codes_cpu)
    fake = {k: v.cpu() for k, v in fake_quantize_state({k: v.detach() for k, v in on_gpu.items()}, quant).items()}
    model = qat.model
    with torch.no_grad():
        t = time_grid(len(x))
        expected = torch.func.functional_call(model, fake, (t,)).T.numpy()
    decoded = synthesize(stream) / stream.header.peak_scale
    diff = float(np.max(np.abs(decoded - expected)))
    check("QAT on cuda: stream decodes to the fitted quantized model", same_codes and diff < 1e-5,
          f"codes equal {same_codes}, largest sample difference {diff:.2e}")

    bf16, bf16_s = timed(args.device, precision="bf16")
    check("bf16 autocast fit", bf16.final_loss < 2 * gpu.final_loss,
          f"final loss {bf16.final_loss:.3e} vs fp32 {gpu.final_loss:.3e}, {bf16_s:.1f} s")
    compiled, compiled_s = timed(args.device, compile=True)
    check("torch.compile fit", compiled.final_loss < 2 * gpu.final_loss,
          f"final loss {compiled.final_loss:.3e}, {compiled_s:.1f} s with the compile")
    if args.paper_clip:
        targets(args, check)
    failures = [name for name, ok, _ in checks if not ok]
    lines = [f"Clip: {args.clip}, {len(x) / clip.sample_rate:g} s at {clip.sample_rate} Hz; {args.steps} steps of "
             f"{args.batch_size}-sample mini-batches, siamese-siren, on {args.device}"
             + (f"; the GPU targets on {args.paper_clip}" if args.paper_clip else "") + ".", "",
             "| check | result | measure |", "|---|---|---|",
             *(f"| {name} | {'PASS' if ok else 'FAIL'} | {measure} |" for name, ok, measure in checks),
             "", f"{step_times}.", "",
             f"{len(failures)} failed" + (f": {', '.join(failures)}." if failures else ".")]
    common.write_summary(common.summary_path(args, NAME, trial=not args.device.startswith("cuda")), TITLE,
                         "\n".join(lines), common.provenance(NAME, args, args.device))
    return 1 if failures else 0


def targets(args, check) -> None:
    """The GPU targets (docs/performance.md): the paper's fit (2500 full-batch steps of a 10 s clip at 22050 Hz)
    in at most 10 s; batched short clips (16 clips of 3 s, mini-batches of 16384, 300 steps, the
    default config's fit) at least 2x the clips per hour of fitting them one at a time."""
    from sirenpipe.audio import load_clip
    from sirenpipe.fit import FitConfig, fit, fit_many
    from sirenpipe.models import model_config

    preset = model_config("siamese-siren")
    x = load_clip(args.paper_clip, sample_rate=22050, duration=10.0).samples
    for options in ({}, {"precision": "bf16"}):
        config = FitConfig(steps=args.paper_steps, batch_size=None, seed=0, device=args.device, **options)
        fit(x, preset, FitConfig(steps=20, batch_size=None, device=args.device, **options), progress=False)  # warm-up
        start = time.perf_counter()
        r = fit(x, preset, config, progress=False)
        seconds = time.perf_counter() - start
        name = ", ".join(f"{k} {v}" for k, v in options.items()) or "fp32"
        check(f"paper fit ({name}) in <= 10 s", seconds <= 10,
              f"{args.paper_steps} full-batch steps of {len(x)} samples in {seconds:.1f} s, final loss {r.final_loss:.3e}")
    clips = [x[i * 66150 : (i + 1) * 66150] for i in range(3)] * 6
    clips = [c / np.abs(c).max() for c in clips[:16]]
    config = FitConfig(steps=300, batch_size=16384, seed=0, device=args.device)
    fit_many(clips[:2], preset, FitConfig(steps=5, batch_size=16384, device=args.device), progress=False)  # warm-up
    start = time.perf_counter()
    fit_many(clips, preset, config, progress=False)
    together = time.perf_counter() - start
    start = time.perf_counter()
    for c in clips[:4]:
        fit(c, preset, config, progress=False)
    alone = (time.perf_counter() - start) / 4 * 16
    check("16 short clips batched >= 2x the clips per hour of single fits", alone / together >= 2,
          f"{3600 * 16 / together:.0f} vs {3600 * 16 / alone:.0f} clips per hour ({alone / together:.1f}x; "
          f"single fits timed on 4 clips)")


if __name__ == "__main__":
    sys.exit(main())
