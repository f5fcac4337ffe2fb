"""Profile graphs of the neurons and synapses an image activates (DeepDataProfiler 2.0.1).

A *profile* of an image is the sub-network it most activates, with DDP's definitions:

1. *Layers* — a layer starts at a ``Conv2d``, ``Linear``, ``MaxPool2d``, ``AvgPool2d``,
   ``AdaptiveAvgPool2d``, a residual add or a channel concatenation, and folds in the
   BatchNorm / activation / Dropout modules that follow it. Layer 0 is the input (after
   the model's own input normalization). The layers come from a ``torch.fx`` trace, so
   any model built of these pieces works (``nn.Flatten`` and ``torch.flatten`` pass
   through); anything else is refused by name and module path.
2. *Influential neurons* — each layer picks its own from its own activations: the tail
   (after the folded modules) where head and tail agree in sign; for channels, each
   channel's maximum over space (elements: that maximum's position); clipped at 0,
   sorted in descending order, the prefix whose cumulative share is ≤ ``threshold`` plus
   one more, weights divided by their sum.
3. *Synapses* — from each influential neuron to its contributors in the predecessor
   layer(s), with DDP's formulas per layer kind (the ``_channel_*`` and ``_element_*``
   functions of :mod:`~topoact.profiles.synapses`), including DDP's quirks (an element
   convolution adds the "one more" contributor only while fewer than k² are kept;
   element max pooling weighs its synapse by the maximum itself).
4. *Counts* — a neuron's count is 1 if it is influential plus the number of synapses it
   is the source of; class profiles add counts, and weights become count-weighted means
   (DDP's ``Profile.__add__``).

Beyond DDP (which has no rule for them): a concatenation passes each influential neuron
to the same neuron of the branch it came from, weight 1, as pooling does; fixed-window
average pooling, ``ceil_mode`` pooling and rectangular kernels follow DDP's rules with
their own windows (GoogLeNet and Inception-v3 are built of these).

Differences from DDP, deliberate: images are profiled in batches (one forward pass for
the batch instead of two per image); a module applied twice is read at each call (DDP's
hooks keep the last call only, which matters for a residual block whose shared ReLU is
not in place); the profile-graph metric is made well defined (undirected shortest paths,
disconnected pairs at a finite cap) — see
:func:`~topoact.profiles.topology.graph_distances`.

The parts, one at a time (this package's ``__init__`` imports none of them, so that a
job that needs only the torch-free parts does not load torch):

- :mod:`~topoact.profiles.tables` — the :class:`~topoact.profiles.tables.Profile` type,
  sums of profiles and their stored columns (torch-free);
- :mod:`~topoact.profiles.trace` — the model traced with ``torch.fx`` and grouped into
  layers (step 1), and a batch run through it;
- :mod:`~topoact.profiles.synapses` — influential neurons and their synapses (steps 2–3);
- :mod:`~topoact.profiles.build` — profiles of images (step 4), the workflow's profiling
  step, and ``topoact profile``'s model and JSON;
- :mod:`~topoact.profiles.topology` — profile graphs as metric spaces, their persistence
  diagrams and images, Jaccard similarity, and the workflow's steps that compute them
  from a profiles store (torch-free).
"""
