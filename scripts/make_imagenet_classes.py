"""Write resources/imagenet_classes.json: the 1000 ImageNet-1k class names, offline.

The names are facts that ship in timm's package data (`timm/data/_info/imagenet_synsets.txt`, the
1000 WordNet synsets in sorted order, which is the class order of keras.applications, and
`imagenet_synset_to_lemma.txt`, each synset's WordNet lemmas). Get timm without installing it:

    .venv/bin/pip download timm --no-deps -d /tmp/timm
    .venv/bin/python scripts/make_imagenet_classes.py /tmp/timm/timm-*.whl

The argument is a timm wheel or a folder holding those two files.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT = REPO_ROOT / "resources" / "imagenet_classes.json"
INFO = "timm/data/_info/"
SYNSETS = "imagenet_synsets.txt"
LEMMAS = "imagenet_synset_to_lemma.txt"
N_CLASSES = 1000


def _read(source: Path, name: str) -> str:
    if source.is_dir():
        return (source / name).read_text(encoding="utf-8")
    with zipfile.ZipFile(source) as wheel:
        return wheel.read(INFO + name).decode("utf-8")


def display_name(lemmas: list[str]) -> str:
    """The first lemma, or a later one that spells it out ("tabby" -> "tabby cat")."""
    first = lemmas[0]
    longer = [lemma for lemma in lemmas[1:] if lemma.startswith(first + " ")]
    return longer[0] if longer else first


def class_table(source: Path) -> dict[str, list[str] | str]:
    """{"synsets", "lemmas", "names"}, each a list of 1000 in Keras's class order."""
    synsets = _read(source, SYNSETS).split()
    if len(synsets) != N_CLASSES or synsets != sorted(synsets):
        raise ValueError(f"{SYNSETS} has {len(synsets)} synsets, expected 1000 in sorted order")
    lemma_of = {}
    for line in _read(source, LEMMAS).splitlines():
        synset, _, text = line.partition("\t")
        lemma_of[synset] = [part.strip() for part in text.split(",") if part.strip()]
    missing = [s for s in synsets if not lemma_of.get(s)]
    if missing:
        raise ValueError(f"{LEMMAS} has no lemmas for {len(missing)} synsets, e.g. {missing[0]}")
    lemmas = [lemma_of[s] for s in synsets]
    return {
        "source": f"timm package data ({INFO}{SYNSETS}, {LEMMAS}); Keras class order",
        "synsets": synsets,
        "names": [display_name(entry) for entry in lemmas],
        "lemmas": [", ".join(entry) for entry in lemmas],
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: write OUTPUT from a timm wheel or folder; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("timm", type=Path, help="timm wheel (.whl) or folder with the files")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        table = class_table(args.timm)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        print(f"make_imagenet_classes: error: {exc}", file=sys.stderr)
        return 1
    args.output.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    names = table["names"]
    print(f"wrote {args.output}: {len(names)} names, e.g. 281 {names[281]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
