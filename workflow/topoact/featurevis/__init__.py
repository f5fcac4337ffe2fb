"""Feature visualization of mapper nodes and their data examples (TopoAct §4).

Two parts, one at a time (this package's ``__init__`` imports neither, so that the job
that only chooses data examples does not load torch and lucent):

- :mod:`~topoact.featurevis.render` — activation images of target vectors, optimised on
  lucent in batches, and the workflow's steps that render a graph's node averages and a
  layer's data examples;
- :mod:`~topoact.featurevis.examples` — which points each node of a layer's graphs shows
  as its data examples, and the files their images go to (numpy only).
"""
