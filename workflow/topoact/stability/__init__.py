"""Which features of a mapper graph are real, and how far a graph moves.

Carrière & Oudot ("Structure and stability of the one-dimensional mapper", 2018):

- **Extended persistence.** The function on a graph's nodes is each node's mean lens (the
  first coordinate of a 2-D lens). Its extended persistence diagram (gudhi's
  ``SimplexTree.extend_filtration`` + ``extended_persistence``) has four kinds of point:
  connected components (Ext₀⁺: min, max of the component), downward branches (Ord₀: a
  local minimum, the value where it merges), upward branches (Rel₁: a local maximum, the
  value where it merges) and loops (Ext₁⁻: the top and bottom of the thinnest loop).
  Births and deaths are read off gudhi's persistence pairs with the nodes' own values,
  so they are exact lens values, and each feature gets its nodes: the component, the
  branch below (above) its merge value, or a shortest cycle through the loop's closing
  edge within its height range.
- **Bootstrap.** The points are resampled with replacement B times; each resample's
  graph is rebuilt by the engine with the same cover intervals, ε and min_samples
  (:func:`topoact.mapper.rebuild`; all resamples in one engine pass, see
  :func:`topoact.mapper.resampled_graphs`), and its diagram's bottleneck distance to the
  original's is recorded. The distance at confidence α is gudhi's ``CoverComplex`` rule,
  the sorted distances' element ⌊αB⌋; a feature is significant when half its
  persistence exceeds it, and its confidence is the share of distances at most half its
  persistence.
- **Bottleneck distance of two extended diagrams**: the largest of the four kinds'
  bottleneck distances (points are matched only with points of their kind or the
  diagonal).
- **Membership similarity** of two graphs on the same points: every node of A matched to
  the node of B with the largest Jaccard index of members, averaged with the node sizes
  as weights, and the same from B to A; the mean of both directions (1 = the same nodes).

The package is cut by concern: :mod:`~topoact.stability.persistence` (extended
persistence, bottleneck), :mod:`~topoact.stability.bootstrap`,
:mod:`~topoact.stability.compare` (graph distances) and
:mod:`~topoact.stability.summaries` (records and tables); their public names are
importable from here. Reading graph stores and a layer's shared pass are steps:
:mod:`topoact.steps.stability`.
"""

from topoact.stability.bootstrap import (
    Stability,
    bootstrap_distances,
    check_bootstrap,
    confidence_at_distance,
    distance_at_confidence,
    graph_stability,
    resamples,
)
from topoact.stability.compare import (
    DISTANCE_COLUMNS,
    GraphComparison,
    compare_graphs,
    compare_to_reference,
    membership_similarity,
)
from topoact.stability.persistence import (
    KINDS,
    Diagram,
    bottleneck,
    extended_diagram,
    graph_diagram,
    node_values,
)
from topoact.stability.summaries import feature_rows, feature_table, stability_record, summary_table

__all__ = [
    "DISTANCE_COLUMNS", "Diagram", "GraphComparison", "KINDS", "Stability",
    "bootstrap_distances", "bottleneck", "check_bootstrap", "compare_graphs",
    "compare_to_reference", "confidence_at_distance", "distance_at_confidence",
    "extended_diagram", "feature_rows", "feature_table", "graph_diagram", "graph_stability",
    "membership_similarity", "node_values", "resamples", "stability_record", "summary_table",
]
