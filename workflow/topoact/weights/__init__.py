"""The topology of convolution weights (Gabrielsson & Carlsson 2019; Carlsson et al. 2008).

Points are the k×k spatial filters of a convolution layer, over many trainings of one
network and over snapshots of each training:

1. *Filters* — every slice W[o, i] of the layer's (O, I, k, k) weight tensor (``each``),
   or Σᵢ W[o, i] (``summed``: where the input channels are copies, as grey images drawn
   as RGB, only the sum acts on an image; the channels' own slices differ by their
   random initialisation alone).
2. *Normalisation* (Carlsson et al. 2008, on 3×3 image patches) — each filter is centred
   on its mean; the fraction ``contrast_drop`` with the lowest contrast (the norm after
   centring, Euclidean or the D-norm of Lee, Pedersen & Mumford) is dropped; the rest is
   scaled to unit norm, so the points lie on a sphere of dimension k² − 2.
3. *Density filter X(k, p)* — the codensity δ_k(x) is the distance to the k-th nearest
   neighbour (the point itself not counted); X(k, p) keeps the fraction p with the
   smallest codensity. Large k averages over wide neighbourhoods (one circle in the
   2008 paper); small k keeps finer structure (three circles).
4. *Topology* — ripser's H0/H1 barcodes of each dense core, and its mapper graph: a
   PCA or codensity lens, KeplerMapper's cover per lens dimension, DBSCAN by the
   project's exact engine with ε at the knee of the k-distance curve.

Each mapper node's mean filter is what the figures draw (Carlsson labels the circle
with mean weight matrices).

The parts, one at a time (this package's ``__init__`` imports none of them, so that the
jobs that only normalise filters or gather the sweep's summaries load neither torch nor
scikit-learn):

- :mod:`~topoact.weights.snapshots` — the trainings and the snapshots of their weights
  (torch);
- :mod:`~topoact.weights.filters` — filters and their normalisation (steps 1–2), and the
  workflow's points of one snapshot (numpy only);
- :mod:`~topoact.weights.topology` — density filters, barcodes and mapper graphs of the
  dense cores (steps 3–4), the sweep's summary and the dynamics over training.
"""
