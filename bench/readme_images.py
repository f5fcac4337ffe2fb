"""Copy the README's and docs' figures from a finished run of the embedded default.

The pictures in `workflow/report/images/` are the run's own files, not drawings made by
hand: after `make run`, this puts each in place (the explorer's screenshot comes from
`bench/explorer.py`, the live panel's from `bench/serve.py`):

    .venv/bin/python bench/readme_images.py [--results results]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = "digits/digits-cnn/seed-0"
#: Each figure of workflow/report/images and the run's file it is.
FIGURES = {
    "mapper-conv3-top-l2.png": f"mapper/{RUN}/top-l2/overlap-30-epsilon-adaptive/conv3.png",
    "class-purity.png": f"purity/{RUN}/class-purity.png",
    "sw-heatmap.png": f"homology/{RUN}/sw-heatmap.png",
    "stability-diagram.png": f"stability/{RUN}/top-l2/overlap-30-epsilon-adaptive/conv4.png",
    "weights-barcodes.png": "weights/digits-cnn/conv1/barcodes.png",
    "profiles-within-across.png": f"profiles/{RUN}/channel/within-across.png",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    images = ROOT / "workflow/report/images"
    for name, source in FIGURES.items():
        shutil.copyfile(args.results / source, images / name)
        print(f"{images / name} <- {args.results / source}")


if __name__ == "__main__":
    main()
