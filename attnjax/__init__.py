"""attnjax: functional attention ops, Flax models and reproducible attention experiments in JAX.

Layers import one way: ``ops -> nn -> models -> train -> experiments``.
"""

__version__ = "0.1.0"
