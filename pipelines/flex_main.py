"""Entry point of the Dataflow Flex Template image (``deploy/Dockerfile``).

The template launcher runs ``python flex_main.py --config=... --runner=DataflowRunner ...``:
the same as ``newsbeam run`` with those arguments.
"""

from __future__ import annotations

import sys

from pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
