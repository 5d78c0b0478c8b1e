"""The findings a real-data classification grid (sst2, imdb) states: named contrasts over its rows.

``contrasts(benchmark)`` -> ``grid.contrasts`` (experiments/grid.py's :class:`Contrast` fields): each
a paired difference of two rows of the grid's ``SCORE_VARIANTS``, the paper that reports its
direction, and for "similar" the margin in points within which the table counts it as agreeing.
The classifiers pool their encoder's states with one learned query, so these are findings about
attention pooling, the setting of Yang et al. (2016) and Lin et al. (2017).
"""

SIMILAR = 2.0  # points of accuracy: the seed-to-seed spread the grids are built to stay under


def contrasts(benchmark: str) -> dict:
    return {
        "1: attention vs mean pooling": dict(
            benchmark=benchmark, variant="scaled_dot", baseline="none", expected=1,
            reference="Yang et al. 2016, Table 2",
            claim="attention pooling (HN-ATT) beats average pooling (HN-AVE) in review classification",
        ),
        "2: scaled vs unscaled dot, one head": dict(
            benchmark=benchmark, variant="scaled_dot", baseline="dot", expected=1,
            reference="Vaswani et al. 2017, section 3.2.1",
            claim="unscaled dot products grow with d_k (the pooled states' width here) and push the softmax where its gradients vanish",
        ),
        "3: additive vs scaled dot": dict(
            benchmark=benchmark, variant="additive", baseline="scaled_dot", expected=0,
            reference="Britz et al. 2017; Luong et al. 2015",
            claim="additive slightly ahead in Britz et al.; multiplicative cheaper and similar in Luong et al.",
            margin=SIMILAR,
        ),
        "4: multi-head vs single-head": dict(
            benchmark=benchmark, variant="multihead_scaled_dot", baseline="scaled_dot", expected=1,
            reference="Lin et al. 2017 (effect of multiple vectors); Vaswani et al. 2017, Table 3 (A)",
            claim="several attention hops or heads beat one",
        ),
    }
