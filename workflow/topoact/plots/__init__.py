"""Figures of every stage, one module each (:mod:`~topoact.plots.activations`,
:mod:`~topoact.plots.mapper`, :mod:`~topoact.plots.stability`,
:mod:`~topoact.plots.homology`, :mod:`~topoact.plots.featurevis`,
:mod:`~topoact.plots.weights`, :mod:`~topoact.plots.profiles`), their functions
importable from here. Figures are made without pyplot: importing them sets no
matplotlib backend (a notebook keeps its own); savefig renders with Agg.
"""

from topoact.plots.activations import (
    plot_k_distance,
    plot_masks,
    plot_noise_examples,
    plot_receptive_fields,
)
from topoact.plots.common import CLASS_COLOURS, save_figure, subplots
from topoact.plots.featurevis import plot_contact_sheet
from topoact.plots.homology import (
    plot_diagrams,
    plot_distance_heatmaps,
    plot_sensitivity,
    plot_specificity,
)
from topoact.plots.mapper import draw_graph_store, plot_mapper_graph, plot_purity_by_layer
from topoact.plots.profiles import (
    plot_class_persistence_images,
    plot_jaccard_heatmaps,
    plot_profile_sizes,
    plot_within_across,
)
from topoact.plots.stability import (
    FEATURE_STYLE,
    plot_extended_diagram,
    plot_graph_distances,
    plot_noise_distances,
    plot_significant_features,
)
from topoact.plots.weights import (
    draw_barcode,
    draw_filter_graph,
    plot_barcode_grid,
    plot_filter_graph,
    plot_weight_dynamics,
)

__all__ = [
    "CLASS_COLOURS", "FEATURE_STYLE", "draw_barcode", "draw_filter_graph", "draw_graph_store",
    "plot_barcode_grid", "plot_class_persistence_images", "plot_contact_sheet",
    "plot_diagrams", "plot_distance_heatmaps", "plot_extended_diagram", "plot_filter_graph",
    "plot_graph_distances", "plot_jaccard_heatmaps", "plot_k_distance", "plot_mapper_graph",
    "plot_masks", "plot_noise_distances", "plot_noise_examples", "plot_profile_sizes",
    "plot_purity_by_layer", "plot_receptive_fields", "plot_sensitivity",
    "plot_significant_features", "plot_specificity", "plot_weight_dynamics",
    "plot_within_across", "save_figure", "subplots",
]
