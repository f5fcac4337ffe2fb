"""Store to store: each workflow job's step reads its inputs' files, calls the algorithms
(which take arrays and return arrays or small dataclasses), and writes its outputs and
figures. Only these steps and the modules of files (``files``, ``store``, ``passes``) and
figures (``plots``) read or write files; the algorithm modules import none of them."""
