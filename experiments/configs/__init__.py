"""Experiment configs (``get_config()``: one training config, for experiments/train.py) and grid configs
(``compare_*.py``, ``grid_*.py``; ``get_config()``: one comparison grid, for experiments/compare.py).

Each file is read by path (``--config experiments/configs/sst2.py``) and can import another as
``from experiments.configs import sst2``.
"""
