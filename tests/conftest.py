"""Suite-wide test settings."""

import os

from hypothesis import HealthCheck, settings

# Property tests compile JAX functions, so examples are slow and their timing is noisy; CI runs a
# fixed, derandomized set so a red build is reproducible.
settings.register_profile(
    "attnjax",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("attnjax")
