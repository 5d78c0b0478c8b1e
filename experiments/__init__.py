"""Experiments on top of :mod:`attnjax`: the comparison grid, its tables and plots, configs and benchmarks.

Run from the repository root, as a module or as a file (both import this package, so the repository
root must be importable: ``pip install -e .`` installs it, or set ``PYTHONPATH`` to the checkout):

    python -m experiments.compare                        # = python experiments/compare.py
    python -m experiments.train --config experiments/configs/sst2.py --workdir runs/sst2
    python -m experiments.table results/

Modules: :mod:`experiments.grid` (variants x benchmarks x seeds), :mod:`experiments.compare` (trains
a grid), :mod:`experiments.table` and :mod:`experiments.plots` (from stored results only),
:mod:`experiments.attention_maps`, :mod:`experiments.baseline_rows`; ``experiments.configs`` holds
the experiment and grid configs, ``experiments.benchmarks`` the speed and memory benchmarks.
"""
