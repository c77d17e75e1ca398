"""Evaluation sets made at run time from shared photos and generated scenes: the dev copy set
(``copies``, ``edits``), the independent hold-out sets with their own edit code (``holdout``,
``holdout_edits``, ``scenes``), and explore / video test media (``generated_sets``). Their
public names are exported by :mod:`search.evaluation`."""
