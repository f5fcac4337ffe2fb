"""TopoAct: topological summaries of CNN activations.

The library behind the Snakemake workflow: every stage's logic lives here and is
importable and testable without Snakemake.
"""

__version__ = "0.1.0"
