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
# encode's options for the families' settings: option dest -> (section, the settings' field).
# Every family takes those of its fit_options and stream_options; the others are refused.
FAMILY_OPTIONS = {
    "steps": ("fit", "steps"), "seed": ("fit", "seed"), "device": ("fit", "device"), "lr": ("fit", "lr"),
    "batch_size": ("fit", "batch_size"), "compile": ("fit", "compile"), "precision": ("fit", "precision"),
    "qat": ("fit", "quant_aware"), "qat_fraction": ("fit", "qat_fraction"), "rate_weight": ("fit", "rate_weight"),
    "loss": ("fit", "loss"), "loss_weight": ("fit", "loss_weight"),
    "bits": ("stream", "bits"), "first_layer_bits": ("stream", "first_layer_bits"), "per_channel": ("stream", "per_channel"),
    "coding": ("stream", "coding"), "float_bits": ("stream", "float_bits"),
}


def _add_encode(sub) -> None:
    from .codec.quantize import CODINGS, FLOAT_BITS
    from .families import FAMILIES
    from .fit import DEFAULT_LOSS_WEIGHTS, LOSSES, PRECISIONS
    from .models import PRESETS

    p = sub.add_parser("encode", help="fit a model to an audio file and write a .sirn bitstream")
    p.add_argument("input", help="audio file (wav, flac, ogg, mp3, ...)")
    p.add_argument("output", help="output .sirn file")
    p.add_argument("--preset", default=None, choices=sorted(PRESETS),
                   help="model preset, of any family (default: siamese-siren; with --kbps, rate control chooses)")
    p.add_argument("--family", default=None, choices=list(FAMILIES),
                   help="with --kbps and no --preset: plan among this model family's presets only")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the family's, 2500)")
    p.add_argument("--seed", type=int, default=None, help="random seed of init and batches (default: 0)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda (default: auto)")
    kbps = p.add_argument("--kbps", type=float, default=None)
    p.add_argument("--rate-model", default=None, metavar="FILE",
                   help="the rate model --kbps plans from (default: the packaged one; see sirenpipe rate-model)")
    p.add_argument("--bits", type=int, default=None, help="SIREN: weight bit width 2..8 (default: 8)")
    p.add_argument("--first-layer-bits", type=int, default=None,
                   help="SIREN: bit width 2..8 of the input layer's weights, which set the frequencies of the sine basis "
                        "(default: --bits, but at least 6): below 6 bits that layer's coarse grid is most of what "
                        "quantization costs, and --qat cannot train it away; it holds few of the weights")
    p.add_argument("--per-channel", action="store_true", default=None, help="SIREN: one quantization scale per output channel")
    p.add_argument("--coding", default=None, choices=CODINGS,
                   help="SIREN: weight codes range-coded (histogram or Laplace model, whichever is smaller, per tensor) "
                        "or fixed-length (default: entropy)")
    p.add_argument("--float-bits", type=int, default=None, choices=FLOAT_BITS,
                   help="SIREN: bits of biases and scales (default: 32)")
    p.add_argument("--qat", action="store_true", default=None,
                   help="SIREN: quantization-aware fitting: the last --qat-fraction of the steps train through the "
                        "quantizer, so the decoded model is exactly the fitted one")
    p.add_argument("--qat-fraction", type=float, default=None,
                   help="SIREN: share of the steps trained through the quantizer (default: 0.5)")
    p.add_argument("--rate-weight", type=float, default=None,
                   help="rate in the loss: loss = distortion + this * estimated coded bits per sample (SIREN: of the "
                        "weights, default 0, off; latent grid: of the latents, default 2e-4)")
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
    p.add_argument("--batch-size", type=int, default=None, help="SIREN: random mini-batch size (default: full batch)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate (default: the family's: 1e-4 for the SIREN, the paper's; 1e-2 for the latent grid)")
    p.add_argument("--compile", action="store_true", default=None,
                   help="SIREN: torch.compile the training step: faster steps after a slow first compile (pays for long "
                        "full-batch fits)")
    p.add_argument("--precision", default=None, choices=PRECISIONS,
                   help="SIREN: bf16 autocast: faster steps on hardware with bf16 matmuls, higher loss per step (default: fp32)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    kbps.help = ("target bitrate: rate control plans the model family, its size and its recipe (from the rate-distortion "
                 "sweep's measurements, the rate model) so that the file is at most this many kbps for this clip, and "
                 "prints its choice; among the families --preset, --family and the other options given allow. "
                 "It chooses the SIREN's bits, quantization and rate weight and either family's objective weight itself")
    p.set_defaults(func=_encode)


def _encode(args) -> None:
    from .atomic import write_bytes
    from .audio import load_clip
    from .encoder import load_rate_model, plan_rate
    from .encoder.api import encode_clip, encode_plan
    from .encoder.ratecontrol import plan_families
    from .families import family_of_preset, get_family

    if args.duration is not None and args.duration <= 0:
        raise ValueError(f"--duration must be positive, got {args.duration}")
    given = {dest: getattr(args, dest) for dest in FAMILY_OPTIONS if getattr(args, dest) is not None}
    settings = {"fit": {}, "stream": {}}
    for dest, value in given.items():
        section, name = FAMILY_OPTIONS[dest]
        settings[section][name] = value
    if args.loss_weight is not None and args.kbps is None and (args.loss or "mse") == "mse":
        raise ValueError("--loss-weight weighs the term of an objective other than mse; give --loss too")
    if args.rate_model is not None and args.kbps is None:
        raise ValueError("--rate-model is what --kbps plans from; give --kbps too")
    if args.family is not None and args.kbps is None:
        raise ValueError("--family restricts rate control's plan; give --kbps too (or name a --preset)")
    if args.kbps is None:
        families = [family_of_preset(args.preset or "siamese-siren")]
    else:
        families = plan_families(args.preset, args.family)
        controlled = {n for f in families for section in f.rate_controlled.values() for n in section}
        chosen = [_flag(d) for d in given if FAMILY_OPTIONS[d][1] in controlled]
        if chosen:
            raise ValueError(f"--kbps chooses the recipe's {', '.join(chosen)} itself; drop {', '.join(chosen)}")
    taking = [f for f in families if set(settings["fit"]) <= set(f.fit_options)
              and set(settings["stream"]) <= set(f.stream_options)]
    if not taking:
        what = f"the {families[0].label} preset {args.preset or 'siamese-siren'}" if len(families) == 1 else "any family"
        refused = [_flag(d) for d in given if all(FAMILY_OPTIONS[d][1] not in (*f.fit_options, *f.stream_options)
                                                   for f in families)]
        raise ValueError(f"{', '.join(refused)} {'applies' if len(refused) == 1 else 'apply'} to another model family, "
                         f"not to {what}")
    clip = load_clip(args.input, sample_rate=args.sample_rate, duration=args.duration, offset=args.offset, pad=args.pad)
    if args.kbps is None:
        family = taking[0]
        encoded = encode_clip(clip, args.preset or "siamese-siren", fit_config=family.fit_config(settings["fit"]),
                              stream_config=family.stream_config(settings["stream"], encoder_defaults=True),
                              progress=not args.quiet)
    else:
        rate_model = load_rate_model(args.rate_model)
        restricted = None if len(taking) == len(families) else taking[0].name
        plan = plan_rate(args.kbps, len(clip.samples), clip.sample_rate, args.preset, rate_model, args.loss,
                         args.family or restricted, settings["fit"])
        print(f"rate control: planned from the {rate_model.describe()}")
        print(f"rate control: {plan.describe()}")
        encoded = encode_plan(clip, plan, settings["fit"], progress=not args.quiet)
    write_bytes(args.output, encoded.data)
    r, family = encoded.fit, get_family(encoded.family)
    parts = [f"{len(encoded.data)} bytes", f"{len(encoded.data) * 8 / clip.duration / 1000:.1f} kbps",
             f"{clip.duration:.2f} s at {clip.sample_rate} Hz", f"{family.label} of {r.model.num_parameters():,} parameters",
             *family.describe_encoded(encoded), f"decoder variant {encoded.variant}", f"final loss {r.final_loss:.3e}",
             f"{r.steps} steps in {r.seconds:.1f} s on {r.device}", f"seed {r.seed}"]
    print(f"{args.output}: " + ", ".join(parts))


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


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
    from .decoder import decode

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
    from .codec import default_variant, stream_sizes
    from .decoder import decompress
    from .families import get_family

    data = _read_bytes(args.input)
    stream = decompress(data)
    h, family = stream.header, get_family(stream.family)
    variant = h.variant or default_variant(h.model.num_heads)
    info = {"file": args.input, "family": family.name, "preset": h.preset, "model": h.model.to_dict(),
            **stream_sizes(data, h).to_dict(), "format_version": stream.version, **family.info(stream),
            "sample_rate": h.sample_rate, "num_samples": h.num_samples, "duration_s": h.duration,
            "peak_scale": h.peak_scale, "variant": variant, "variant_chosen_by_encoder": h.variant is not None}
    if args.json:
        print(json.dumps(info, indent=2))
        return
    print(f"file:        {args.input}")
    print(f"preset:      {h.preset or '(custom)'} ({family.label} family)")
    print(f"audio:       {h.duration:.3f} s, {h.num_samples} samples at {h.sample_rate} Hz, peak {h.peak_scale:.4f}")
    print(f"decoder:     {variant} ({'the encoder measured it closest to the clip' if h.variant else 'the reference for this head count'})")
    for line in family.info_lines(stream, info):
        print(line)


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
    from .families import FAMILIES

    if args.action == "install":
        target = install_rate_model(args.file)
        print(f"installed {args.file} as {target}: {load_rate_model().describe()}")
        return
    model = load_rate_model(args.file)
    print(model.describe())
    for name, family in FAMILIES.items():
        for line in family.describe_rows(model.rows.get(name, [])):
            print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
