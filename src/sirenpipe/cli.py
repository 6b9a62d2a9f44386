"""Command line: sirenpipe encode | decode | info | score | rate-model."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from . import __version__
from .errors import SirenpipeError

EXIT_BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        _reexec_with_fast_allocator()
    parser = build_parser()
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)  # unwind (and drop temp files) on SIGTERM too
    try:
        return args.func(args) or 0
    except (SirenpipeError, OSError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"sirenpipe {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"sirenpipe {args.command}: interrupted; no output written", file=sys.stderr)
        return 130


def _reexec_with_fast_allocator() -> None:
    """Restart this process under tcmalloc when it is installed and not yet loaded."""
    import os

    from .allocator import allocator_env

    extra = allocator_env()
    if extra:
        os.execve(sys.executable, [sys.executable, "-m", "sirenpipe", *sys.argv[1:]], {**os.environ, **extra})


def _terminate(signum, frame):
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sirenpipe", description="Audio compression with implicit neural representations.")
    parser.add_argument("--version", action="version", version=f"sirenpipe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_encode(sub)
    _add_decode(sub)
    _add_info(sub)
    _add_score(sub)
    _add_rate_model(sub)
    return parser


# --- encode ------------------------------------------------------------------------------
def _add_encode(sub) -> None:
    from .codec.quantize import CODINGS, FLOAT_BITS
    from .fit import DEFAULT_LOSS_WEIGHTS, LOSSES, PRECISIONS
    from .models import PRESETS

    p = sub.add_parser("encode", help="fit an INR to an audio file and write a .sirn bitstream")
    p.add_argument("input", help="audio file (wav, flac, ogg, mp3, ...)")
    p.add_argument("output", help="output .sirn file")
    p.add_argument("--preset", default="siamese-siren", choices=sorted(PRESETS), help="model preset (default: %(default)s)")
    p.add_argument("--steps", type=int, default=2500, help="training steps (default: %(default)s, the paper's)")
    p.add_argument("--seed", type=int, default=0, help="random seed of init and batches (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default: %(default)s)")
    kbps = p.add_argument("--kbps", type=float, default=None)
    p.add_argument("--rate-model", default=None, metavar="FILE",
                   help="the rate model --kbps plans from (default: the packaged one; see sirenpipe rate-model)")
    p.add_argument("--bits", type=int, default=None, help="weight bit width 2..8 (default: 8)")
    p.add_argument("--first-layer-bits", type=int, default=None,
                   help="bit width 2..8 of the input layer's weights, which set the frequencies of the sine basis "
                        "(default: --bits, but at least 6): below 6 bits that layer's coarse grid is most of what "
                        "quantization costs, and --qat cannot train it away; it holds few of the weights")
    p.add_argument("--per-channel", action="store_true", help="one quantization scale per output channel")
    p.add_argument("--coding", default=None, choices=CODINGS,
                   help="weight codes: range-coded (histogram or Laplace model, whichever is smaller, per tensor) "
                        "or fixed-length (default: entropy)")
    p.add_argument("--float-bits", type=int, default=None, choices=FLOAT_BITS, help="bits of biases and scales (default: 32)")
    p.add_argument("--qat", action="store_true",
                   help="quantization-aware fitting: the last --qat-fraction of the steps train through the quantizer, "
                        "so the decoded model is exactly the fitted one")
    p.add_argument("--qat-fraction", type=float, default=0.5, help="share of the steps trained through the quantizer (default: %(default)s)")
    p.add_argument("--rate-weight", type=float, default=0.0,
                   help="rate-aware fitting: loss = MSE + this * estimated coded bits of the weights per sample (default: 0, off)")
    p.add_argument("--loss", default=None, choices=list(LOSSES),
                   help="training objective (default: mse; with --kbps, the plan is made among this objective's "
                        "recipes, and without it rate control chooses): "
                        + "; ".join(f"{k}: {v}" for k, v in LOSSES.items()))
    p.add_argument("--loss-weight", type=float, default=None,
                   help="weight w of the objective's perceptual term, loss = (MSE + w * term) / (1 + w) "
                        f"(default: the objective's, {', '.join(f'{k} {v:g}' for k, v in DEFAULT_LOSS_WEIGHTS.items() if v)})")
    p.add_argument("--duration", type=float, default=10.0, help="encode at most this many seconds (default: %(default)s, the paper's)")
    p.add_argument("--pad", action="store_true", help="zero-pad a shorter file to --duration (the paper's fixed-length clips)")
    p.add_argument("--offset", type=float, default=0.0, help="seconds to skip at the start (default: 0)")
    p.add_argument("--sample-rate", type=int, default=22050, help="rate the clip is fitted at (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=None, help="random mini-batch size (default: full batch)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate (default: 1e-4, the paper's; for the latent-grid presets lg-*, 1e-2)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the training step: faster steps after a slow first compile (pays for long full-batch fits)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="bf16 autocast: faster steps on hardware with bf16 matmuls, higher loss per step (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    kbps.help = ("target bitrate. With a latent-grid preset (lg-*), the fit's rate weight adapts so that the file is at "
                 "most this many kbps. Otherwise rate control chooses the model width, bit width, quantization-aware fitting, "
                 "rate weight and training objective (from the rate-distortion sweep's measurements) so that the file is at most this many "
                 f"kbps for this clip, and prints its choice; excludes {', '.join(_rate_controlled_options())}")
    p.set_defaults(func=_encode)


# encode's option for a rate-controlled field, where it is not the field's name
_OPTION_DEST = {"quant_aware": "qat"}


def _rate_controlled_options() -> dict[str, str]:
    """{flag: argparse dest} of encode's options for the fields rate control chooses."""
    from .encoder.ratecontrol import RATE_CONTROLLED

    dests = [_OPTION_DEST.get(f, f) for section in ("quant", "fit") for f in RATE_CONTROLLED[section]]
    return {"--" + d.replace("_", "-"): d for d in dests}


def _encode(args) -> None:
    from .atomic import write_bytes
    from .audio import load_clip
    from .codec.quantize import QuantConfig
    from .encoder import load_rate_model, plan_rate
    from .encoder.api import encode_at_rate, encode_clip
    from .fit import FitConfig

    if args.duration is not None and args.duration <= 0:
        raise ValueError(f"--duration must be positive, got {args.duration}")
    from .fit import LATENT_LR
    from .models import model_config

    latent = model_config(args.preset).family == "latent_grid"
    if latent:
        siren_only = {"--bits": args.bits, "--first-layer-bits": args.first_layer_bits, "--coding": args.coding,
                      "--float-bits": args.float_bits, "--rate-model": args.rate_model, "--batch-size": args.batch_size}
        siren_only.update({"--per-channel": args.per_channel or None, "--qat": args.qat or None,
                           "--qat-fraction": None if args.qat_fraction == 0.5 else args.qat_fraction,
                           "--compile": args.compile or None, "--precision": None if args.precision == "fp32" else args.precision})
        given = [flag for flag, value in siren_only.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} apply to the SIREN presets, not to the latent-grid preset {args.preset}")
        if args.kbps is not None and args.rate_weight:
            raise ValueError("--kbps adapts the rate weight itself; drop --rate-weight")
    # value options are given when set at all; the flags and --rate-weight when not at their off value
    off = {"per_channel": False, "qat": False, "rate_weight": 0.0, "loss_weight": None}
    given = [flag for flag, dest in _rate_controlled_options().items() if getattr(args, dest) != off.get(dest)]
    if args.kbps is not None and given and not latent:
        raise ValueError(f"--kbps chooses the quantization and fitting recipe itself; drop {', '.join(given)}")
    if args.loss_weight is not None and args.kbps is None and (args.loss or "mse") == "mse":
        raise ValueError("--loss-weight weighs the term of an objective other than mse; give --loss too")
    if args.rate_model is not None and args.kbps is None:
        raise ValueError("--rate-model is what --kbps plans from; give --kbps too")
    clip = load_clip(args.input, sample_rate=args.sample_rate, duration=args.duration, offset=args.offset, pad=args.pad)
    lr = args.lr if args.lr is not None else LATENT_LR if latent else 1e-4
    fit_config = FitConfig(steps=args.steps, lr=lr, batch_size=args.batch_size, seed=args.seed, device=args.device,
                           compile=args.compile, precision=args.precision, quant_aware=args.qat,
                           qat_fraction=args.qat_fraction, rate_weight=args.rate_weight, loss=args.loss or "mse",
                           loss_weight=args.loss_weight)
    if latent:
        from .encoder.api import encode_latent_at_rate

        if args.kbps is not None:
            encoded = encode_latent_at_rate(clip, args.kbps, model_config(args.preset), fit_config, progress=not args.quiet,
                                            preset=args.preset)
        else:
            encoded = encode_clip(clip, args.preset, fit_config=fit_config, progress=not args.quiet)
        write_bytes(args.output, encoded.data)
        _print_latent_encode(args.output, encoded, clip)
        return
    if args.kbps is not None:
        rate_model = load_rate_model(args.rate_model)
        plan = plan_rate(args.kbps, len(clip.samples), clip.sample_rate, args.preset, rate_model, args.loss)
        print(f"rate control: planned from the {rate_model.describe()}")
        print(f"rate control: {plan.describe()}")
        encoded = encode_at_rate(clip, args.kbps, args.preset, fit_config, progress=not args.quiet, rate_model=rate_model,
                                 loss=args.loss)
    else:
        quant = QuantConfig.for_encoder(args.bits or 8, args.per_channel, args.coding or "entropy", args.float_bits or 32,
                                        args.first_layer_bits)
        encoded = encode_clip(clip, args.preset, fit_config=fit_config, quant=quant, progress=not args.quiet)
    write_bytes(args.output, encoded.data)
    r, q = encoded.fit, encoded.quant
    aware = [f"quantization-aware ({r.config.qat_steps} steps)"] if r.config.quant_aware else []
    aware += [f"rate weight {r.config.rate_weight:g} (estimated {r.rate_bits / 8:,.0f} bytes of weight codes)"] if r.rate_bits else []
    aware += [f"loss {r.config.loss} (weight {r.config.loss_weight:g})"] if r.config.loss != "mse" else []
    if encoded.plan is not None and q.bits != encoded.plan.quant.bits:
        aware += [f"re-quantized from {encoded.plan.quant.bits} to {q.bits} bits to fit {encoded.plan.budget_bytes} bytes"]
    print(
        f"{args.output}: {len(encoded.data)} bytes, {len(encoded.data) * 8 / clip.duration / 1000:.1f} kbps, "
        f"{clip.duration:.2f} s at {clip.sample_rate} Hz, {r.model.num_parameters():,} parameters, {q.label} "
        f"{q.coding} codes, decoder variant {encoded.variant}, final loss {r.final_loss:.3e}, "
        f"{r.steps} steps in {r.seconds:.1f} s on {r.device}, seed {r.seed}" + "".join(f", {a}" for a in aware)
    )


def _print_latent_encode(output, encoded, clip) -> None:
    r, n = encoded.fit, encoded.networks
    print(f"{output}: {len(encoded.data)} bytes, {len(encoded.data) * 8 / clip.duration / 1000:.1f} kbps, "
          f"{clip.duration:.2f} s at {clip.sample_rate} Hz, latent grid ({r.model.num_parameters():,} network parameters, "
          f"latents {n['latent_bits'] / 8:,.0f} bytes, networks {(n['arm_bits'] + n['synthesis_bits']) / 8:,.0f} bytes), "
          f"rate weight {r.config.rate_weight:.3g}, loss {r.config.loss}, decoder variant {encoded.variant}, "
          f"final loss {r.final_loss:.3e}, {r.steps} steps in {r.seconds:.1f} s on {r.device}, seed {r.seed}")


# --- decode ------------------------------------------------------------------------------
def _add_decode(sub) -> None:
    from .codec.variants import DEFAULT_ALPHA, VARIANTS

    p = sub.add_parser("decode", help="decode a .sirn bitstream to a WAV file")
    p.add_argument("input", help=".sirn file")
    p.add_argument("output", help="output .wav file (32-bit float)")
    p.add_argument("--sample-rate", type=int, default=None, help="output rate (default: the encoded clip's)")
    p.add_argument("--variant", "--denoise", dest="variant", choices=VARIANTS, default=None,
                   help="decoder variant (default: the one the stream names, which its encoder measured closest to "
                        "the clip; for older streams siamese for two-head models, else f0)")
    p.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="noise-estimate amplitude for --variant siamese (default: %(default)s)")
    p.set_defaults(func=_decode)


def _decode(args) -> None:
    from .audio import write_wav
    from .codec.decoder import decode

    out = decode(_read_bytes(args.input), args.sample_rate, args.variant, args.alpha)
    write_wav(args.output, out.signal, out.sample_rate)
    print(f"{args.output}: {len(out.signal) / out.sample_rate:.2f} s at {out.sample_rate} Hz, variant {out.variant}")


def _read_bytes(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise SirenpipeError(f"{path}: no such file" if not p.exists() else f"{path}: not a regular file")
    return p.read_bytes()


# --- info --------------------------------------------------------------------------------
def _add_info(sub) -> None:
    p = sub.add_parser("info", help="describe a .sirn bitstream")
    p.add_argument("input", help=".sirn file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_info)


def _info(args) -> None:
    from .codec import decompress, default_variant, stream_sizes
    from .evaluation.paper import paper_style_bytes, paper_style_parameters

    data = _read_bytes(args.input)
    stream = decompress(data)
    h = stream.header
    variant = h.variant or default_variant(h.model.num_heads)
    if stream.latent is not None:
        return _latent_info(args, data, stream, variant)
    info = {
        "file": args.input,
        "preset": h.preset,
        "model": h.model.to_dict(),
        **stream_sizes(data, h, stream.model).to_dict(),
        "paper_style_parameters": paper_style_parameters(stream.model),
        "paper_style_bytes": paper_style_bytes(stream.model, h.quant.bits),
        "format_version": stream.version,
        "bits": h.quant.bits,
        "first_layer_bits": h.quant.for_layer(True).bits,
        "per_channel": h.quant.per_channel,
        "coding": h.quant.coding,
        "float_bits": h.quant.float_bits,
        "tensors": [t.to_dict() for t in stream.tensors],
        "sample_rate": h.sample_rate,
        "num_samples": h.num_samples,
        "duration_s": h.duration,
        "peak_scale": h.peak_scale,
        "variant": variant,
        "variant_chosen_by_encoder": h.variant is not None,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return
    m = h.model
    print(f"file:        {args.input}")
    print(f"preset:      {h.preset or '(custom)'} ({m.arch}: shared {list(m.shared)}, heads {m.num_heads} x {list(m.head_widths)}, "
          f"PE {m.pe_frequencies}, omega_0 {m.omega_0:g}, omega {m.omega:g})")
    print(f"parameters:  {info['parameters']:,} (paper-style count {info['paper_style_parameters']:,})")
    print(f"size:        {info['bytes']:,} bytes, {info['kbps']:.1f} kbps (paper-style size {info['paper_style_bytes'] / 1000:.1f} kB)")
    print(f"quantized:   {h.quant.label} {'per-channel' if h.quant.per_channel else 'per-tensor'} weights, "
          f"{h.quant.coding} codes, fp{h.quant.float_bits} biases and scales (format version {stream.version})")
    print(f"audio:       {h.duration:.3f} s, {h.num_samples} samples at {h.sample_rate} Hz, peak {h.peak_scale:.4f}")
    print(f"decoder:     {variant} ({'the encoder measured it closest to the clip' if h.variant else 'the reference for this head count'})")
    print(f"{'tensor':30s} {'count':>8s} {'bits':>5s} {'coding':>9s} {'bytes':>8s} {'coded bits/value':>17s}")
    for t in stream.tensors:
        print(f"{t.name:30s} {t.count:8,d} {t.bits:5d} {t.coding:>9s} {t.bytes:8,d} {t.coded_bits_per_value:17.3f}")


def _latent_info(args, data: bytes, stream, variant: str) -> None:
    h, payload = stream.header, stream.latent
    info = {"file": args.input, "preset": h.preset, "model": h.model.to_dict(), "format_version": stream.version,
            "bytes": len(data), "kbps": len(data) * 8 / h.duration / 1000, "network_parameters": h.model.num_parameters(),
            "latents": [len(v) for v in payload.latents], "strides": list(h.model.strides()),
            "part_bytes": payload.sizes, "shifts": {m: [s.weight, s.bias] for m, s in payload.shifts.items()},
            "macs_per_sample": h.model.macs_per_sample(), "sample_rate": h.sample_rate, "num_samples": h.num_samples,
            "duration_s": h.duration, "peak_scale": h.peak_scale, "variant": variant,
            "variant_chosen_by_encoder": h.variant is not None}
    if args.json:
        print(json.dumps(info, indent=2))
        return
    print(f"file:        {args.input}")
    print(f"preset:      {h.preset or '(custom)'} (latent grid: {h.model.num_grids} grids, strides {h.model.strides()[0]}.."
          f"{h.model.strides()[-1]}, {h.model.num_heads} heads)")
    print(f"size:        {len(data):,} bytes, {info['kbps']:.1f} kbps (format version {stream.version})")
    print(f"parts:       " + ", ".join(f"{k} {v:,} bytes" for k, v in payload.sizes.items()))
    print(f"decoding:    {info['macs_per_sample']['total']:,.0f} MACs per sample")
    print(f"audio:       {h.duration:.3f} s, {h.num_samples} samples at {h.sample_rate} Hz, peak {h.peak_scale:.4f}")
    print(f"decoder:     {variant}")


# --- score -------------------------------------------------------------------------------
def _add_score(sub) -> None:
    p = sub.add_parser("score", help="score a degraded file against a reference")
    p.add_argument("ref", help="reference audio file")
    p.add_argument("deg", help="degraded (decoded) audio file")
    p.add_argument("--mode", choices=("speech", "audio"), default="speech", help="speech metrics setup or music/audio (default: %(default)s)")
    p.add_argument("--metrics", default=None, help="comma-separated metric names (default: all but cdpam)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_score)


def _score(args) -> None:
    from .metrics import score
    from .scoring import load_pair

    ref, est, rate = load_pair(args.ref, args.deg)
    names = args.metrics.split(",") if args.metrics else None
    results = score(ref=ref, est=est, sample_rate=rate, kind=args.mode, metrics=names)
    if args.json:
        print(json.dumps({name: r.to_dict() for name, r in results.items()}, indent=2))
        return
    for name, r in results.items():
        value = f"{r.value:.4f}" if r.value is not None else f"null ({r.reason})"
        print(f"{name:14s} {value}" + (f"  [{r.mode}]" if r.mode else ""))


# --- rate-model --------------------------------------------------------------------------
def _add_rate_model(sub) -> None:
    p = sub.add_parser("rate-model", help="show the rate model --kbps plans from, or install a sweep's as the packaged one")
    actions = p.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="provenance and recipes of a rate model (default: the packaged one)")
    show.add_argument("file", nargs="?", default=None, help="a rate_model.json (default: the packaged one)")
    install = actions.add_parser("install", help="check a sweep's rate model and make it the packaged one")
    install.add_argument("file", help="the sweep's results/tables/rate_model.json")
    p.set_defaults(func=_rate_model)


def _rate_model(args) -> None:
    from .encoder import install_rate_model, load_rate_model

    if args.action == "install":
        target = install_rate_model(args.file)
        print(f"installed {args.file} as {target}: {load_rate_model().describe()}")
        return
    model = load_rate_model(args.file)
    print(model.describe())
    for recipe in sorted({p.recipe for p in model.points}, key=lambda r: (r.bits, r.quant_aware, r.rate_weight, r.loss, r.loss_weight)):
        densities = ", ".join(f"{p.params_per_second:,.0f}" for p in model.points if p.recipe == recipe)
        print(f"  {recipe.describe()}: parameters per second {densities}")


if __name__ == "__main__":
    sys.exit(main())
