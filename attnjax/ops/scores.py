"""Attention score functions: how much query ``i`` attends to key ``j``, before the softmax.

Every score maps ``query [batch, q_len, heads, head_dim]`` and ``key [batch, k_len, heads, head_dim]``
to float32 logits ``[batch, heads, q_len, k_len]``, whatever the input dtype. Each logit depends on one
(query, key) pair only, so every score also runs chunk by chunk in :mod:`attnjax.ops.chunked`.

A score with parameters takes them as an explicit pytree; ``Score.init(rng, num_heads, head_dim)``
builds them, so the functions stay pure and any framework can own the parameters.

Every score but additive is also a dot product in disguise, and declares it (``Score.as_dot``):
transformed queries and keys whose dot product, plus a per-key bias, gives the same logits up to a
constant per query row, which the softmax ignores. The attention functions run those scores as a
plain dot product (and so in fused dot-product kernels):

=============  ==========================================  ===================================
name           query'                                      key', key_bias
=============  ==========================================  ===================================
``dot``        q                                           k, none
``scaled_dot`` q / sqrt(d)                                 k, none
``general``    q W                                         k, none
``cosine``     exp(log_scale) q / |q|                      k / |k|, none
``gaussian``   q / sigma^2                                 k, -|k|^2 / (2 sigma^2)
=============  ==========================================  ===================================

(gaussian drops ``-|q|^2 / (2 sigma^2)``, constant along a softmax row.)

The additive score has no dot form, but its own (``Score.as_additive``): ``W q + b`` and ``U k``
formed once, so the pairwise work is ``sum_a v_a tanh(x_ia + y_ja)`` alone, which
:func:`attnjax.ops.additive.tanh_sum` computes without a per-pair tangent.

Coverage (See et al. 2017; :mod:`attnjax.ops.coverage`) adds ``coverage [B, Lq, Lk]``, the attention
already paid to each key, to a score. How is the score's own business (``Score.coverage``): additive
puts ``w_c c`` inside its tanh, ``v . tanh(W q + U k + w_c c + b)`` with ``w_c [h, a]`` (as in the
paper); every other score takes :data:`LOGIT_COVERAGE`, a learned per-head ``w_c [h]`` times ``c``
added to its logits.

=============  ==========================================================  ============================
name           logit                                                       parameters (per head h)
=============  ==========================================================  ============================
``dot``        q . k                                                       none
``scaled_dot`` q . k / sqrt(d)                                             none
``general``    q W k  (Luong et al. 2015)                                  ``kernel [h, d, d]``
``additive``   v . tanh(W q + U k + b)  (Bahdanau et al. 2015)             ``query_kernel [h, d, a]``,
                                                                           ``key_kernel [h, d, a]``,
                                                                           ``bias [h, a]``, ``v [h, a]``
``cosine``     exp(log_scale) * cos(q, k)                                  ``log_scale [h]``
``gaussian``   -|q - k|^2 / (2 sigma^2)                                    ``log_sigma [h]``
=============  ==========================================================  ============================
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from attnjax.ops.additive import SCAN_PAIR_WIDTH, tanh_sum
from attnjax.registry import Registry

Array = jax.Array
Params = Any  # a pytree of arrays, or None for scores without parameters
ScoreFn = Callable[..., Array]
InitFn = Callable[..., Params]

_F32 = jnp.float32


class DotForm(NamedTuple):
    """A score as a dot product: ``logits = query . key + key_bias``, equal to the score's logits up
    to a constant per query row.

    Attributes:
      query: ``[B, Lq, H, E]`` (``E`` need not be the input head dim).
      key: ``[B, Lk, H, E]``.
      key_bias: float32 ``[B, H, 1, Lk]``, or None.
    """

    query: Array
    key: Array
    key_bias: Optional[Array] = None

    def logits(self, precision=None) -> Array:
        """float32 ``[B, H, Lq, Lk]``."""
        s = _qk(self.query, self.key, precision)
        return s if self.key_bias is None else s + self.key_bias


DotFormFn = Callable[..., DotForm]


class AdditiveForm(NamedTuple):
    """A score as ``logits_ij = sum_a v_a tanh(query_ia + key_ja)``, exactly (Bahdanau's, with its
    projections applied).

    Attributes:
      query: ``[B, Lq, H, A]`` (``W q + b``).
      key: ``[B, Lk, H, A]`` (``U k``).
      v: ``[H, A]``.
    """

    query: Array
    key: Array
    v: Array

    def logits(self) -> Array:
        """float32 ``[B, H, Lq, Lk]``."""
        return tanh_sum(self.query, self.key, self.v)


AdditiveFormFn = Callable[..., AdditiveForm]


@dataclasses.dataclass(frozen=True)
class CoverageForm:
    """How a score reads the coverage vector.

    Attributes:
      init_fn: ``init_fn(rng, num_heads, head_dim, score_params) -> coverage_params``.
      logits_fn: ``logits_fn(fn, query, key, score_params, coverage_params, coverage, precision=None)
        -> logits``: the score ``fn``'s float32 logits ``[B, H, Lq, Lk]`` with ``coverage
        [B, Lq, Lk]`` (float32, the same for every head) in them.
    """

    init_fn: Callable[..., Params]
    logits_fn: Callable[..., Array]


def _logit_coverage_init(rng, num_heads, head_dim, score_params):
    # Zero: a model with coverage starts out scoring as one without, and learns how much to use it.
    del rng, head_dim, score_params
    return {"w_c": jnp.zeros((num_heads,), _F32)}


def _logit_coverage_logits(fn, query, key, score_params, coverage_params, coverage, precision=None):
    logits = fn(query, key, score_params, precision=precision)
    return logits + coverage_params["w_c"].astype(_F32)[None, :, None, None] * coverage[:, None].astype(_F32)


# The default coverage of a score: ``w_c[h] * coverage`` added to its logits.
LOGIT_COVERAGE = CoverageForm(_logit_coverage_init, _logit_coverage_logits)


@dataclasses.dataclass(frozen=True)
class Score:
    """A named attention score.

    Attributes:
      name: registry name.
      fn: ``fn(query, key, params, precision=None) -> logits``; query ``[B, Lq, H, D]``, key
        ``[B, Lk, H, D]``, logits float32 ``[B, H, Lq, Lk]``.
      init_fn: ``init_fn(rng, num_heads, head_dim, **options) -> params``, or None when the score
        has no parameters; call it through :meth:`init`, which checks its arguments.
      description: one line for listings and error messages.
      pair_width: ``pair_width(params) -> int``, the floats one (query, key) pair occupies in the
        score's largest intermediate at the lengths where memory matters (1 for dot-like scores;
        additive: :data:`attnjax.ops.additive.SCAN_PAIR_WIDTH`, the tiles of its kernel's scan over
        the hidden units). Benchmarks size a plain call by it.
      dot_form: ``dot_form(query, key, params, precision=None) -> DotForm``, or None for a score
        that is no dot product (additive); call it through :meth:`as_dot`.
      coverage: how coverage enters this score (:class:`CoverageForm`; default
        :data:`LOGIT_COVERAGE`); call it through :meth:`init_coverage` and :meth:`coverage_logits`.
      additive_form: ``additive_form(query, key, params, precision=None) -> AdditiveForm``, or None
        for a score that is no sum of tangents (every one but additive); call it through
        :meth:`as_additive`.
      keys_only_pooling: attention pooling (one query, the same for every example) runs this score
        on a zero query instead of a learned one. True for additive: its query term ``W q + b`` is
        then one learned bias per hidden unit, ``v . tanh(U k + b)``, the keys-only MLP attention
        of Yang et al. (2016) and Flax's examples/sst2. A learned query there would be that bias
        written as a product of three trained tensors (the pooling's query, the query projection,
        ``W``), which Adam moves by about the learning rate times ``|q|_1`` a step: on SST-2 it
        saturated every tanh unit within 100 steps and froze the weights at uniform (README).
        Dot-form scores need the learned query (a zero query scores every key 0).
    """

    name: str
    fn: ScoreFn
    init_fn: Optional[InitFn] = None
    description: str = ""
    pair_width: Callable[[Params], int] = lambda params: 1
    dot_form: Optional[DotFormFn] = None
    coverage: CoverageForm = LOGIT_COVERAGE
    additive_form: Optional[AdditiveFormFn] = None
    keys_only_pooling: bool = False

    @property
    def has_params(self) -> bool:
        return self.init_fn is not None

    @property
    def has_dot_form(self) -> bool:
        return self.dot_form is not None

    def as_dot(self, query: Array, key: Array, params: Params = None, precision=None) -> DotForm:
        """``(query', key', key_bias)``: this score as a dot product (see :class:`DotForm`); query
        ``[B, Lq, H, D]`` and key ``[B, Lk, H, D]`` with the same heads."""
        return self._form(self.dot_form, "dot-product", query, key, params, precision)

    @property
    def has_additive_form(self) -> bool:
        return self.additive_form is not None

    def as_additive(self, query: Array, key: Array, params: Params = None, precision=None) -> AdditiveForm:
        """``(query', key', v)``: this score as a sum of tangents (see :class:`AdditiveForm`); query
        ``[B, Lq, H, D]`` and key ``[B, Lk, H, D]`` with the same heads."""
        return self._form(self.additive_form, "additive", query, key, params, precision)

    def _form(self, form_fn, kind: str, query, key, params, precision):
        check_params(self, params)
        if form_fn is None:
            raise ValueError(
                f"score {self.name!r} has no {kind} form; compute its logits with the score itself "
                f"(score(query, key, params))"
            )
        return form_fn(query, key, params, precision=precision)

    def __call__(self, query: Array, key: Array, params: Params = None, precision=None) -> Array:
        check_params(self, params)
        return self.fn(query, key, params, precision=precision)

    def init(self, rng: Array, num_heads: int, head_dim: int, **options) -> Params:
        """Parameters for this score (None when it has none)."""
        if num_heads <= 0 or head_dim <= 0:
            raise ValueError(
                f"num_heads and head_dim must be positive, got num_heads={num_heads}, "
                f"head_dim={head_dim}"
            )
        if self.init_fn is None:
            if options:
                raise ValueError(f"score {self.name!r} has no parameters; got options {sorted(options)}")
            return None
        return self.init_fn(rng, num_heads, head_dim, **options)

    def init_coverage(self, rng: Array, num_heads: int, head_dim: int, params: Params = None) -> Params:
        """Parameters of this score's coverage term (``params``: the score's own, which may size it)."""
        check_params(self, params)
        return self.coverage.init_fn(rng, num_heads, head_dim, params)

    def coverage_logits(self, query: Array, key: Array, params: Params, coverage_params: Params,
                        coverage: Array, precision=None) -> Array:
        """float32 logits ``[B, H, Lq, Lk]`` with ``coverage [B, Lq, Lk]`` in them; query
        ``[B, Lq, H, D]``, key ``[B, Lk, H, D]``."""
        check_params(self, params)
        b, lq, lk = query.shape[0], query.shape[1], key.shape[1]
        if coverage.shape != (b, lq, lk):
            raise ValueError(
                f"coverage has shape {coverage.shape}; expected [batch, q_len, k_len] = {(b, lq, lk)}"
            )
        return self.coverage.logits_fn(self.fn, query, key, params, coverage_params, coverage, precision=precision)


def check_params(score: Score, params: Params) -> None:
    """Raises a ValueError when a parameterised score gets no parameters, or the reverse."""
    if score.has_params and params is None:
        raise ValueError(
            f"score {score.name!r} has parameters but score_params is None; build them with "
            f"attnjax.ops.get_score({score.name!r}).init(rng, num_heads, head_dim)"
        )
    if not score.has_params and params is not None:
        raise ValueError(f"score {score.name!r} takes no parameters, but score_params was given")


SCORES: Registry[Score] = Registry("attention score")


def register_score(score: Score) -> Score:
    """Adds a score to the registry, so models and experiments can name it."""
    return SCORES.register(score.name, score)


def get_score(name: "str | Score") -> Score:
    """The score registered as ``name`` (a Score passes through). Unknown names raise ValueError."""
    if isinstance(name, Score):
        return name
    return SCORES.get(name)


def list_scores() -> tuple[str, ...]:
    """Names of all registered scores."""
    return SCORES.names()


def _qk(query: Array, key: Array, precision=None) -> Array:
    """q . k for every head: ``[B, Lq, H, D] x [B, Lk, H, D] -> [B, H, Lq, Lk]`` in float32."""
    return jnp.einsum("bqhd,bkhd->bhqk", query, key, precision=precision, preferred_element_type=_F32)


def _per_head(x: Array) -> Array:
    """A per-head vector ``[H]`` shaped to broadcast against logits ``[B, H, Lq, Lk]``."""
    return x.astype(_F32)[None, :, None, None]


# --- dot and scaled dot ---------------------------------------------------------------------------


def _per_head_vector(x: Array) -> Array:
    """A per-head vector ``[H]`` shaped to broadcast against queries or keys ``[B, L, H, D]``."""
    return x.astype(_F32)[None, None, :, None]


def dot_score(query, key, params=None, precision=None):
    del params
    return _qk(query, key, precision)


def dot_as_dot(query, key, params=None, precision=None):
    del params, precision
    return DotForm(query, key)


def _scaled_query(query: Array) -> Array:
    # Scale the query before the matmul (as jax.nn and flax do): fewer multiplies than scaling logits.
    return query * jnp.asarray(1.0 / math.sqrt(query.shape[-1]), query.dtype)


def scaled_dot_score(query, key, params=None, precision=None):
    del params
    return _qk(_scaled_query(query), key, precision)


def scaled_dot_as_dot(query, key, params=None, precision=None):
    del params, precision
    return DotForm(_scaled_query(query), key)


# --- general (Luong's bilinear) -------------------------------------------------------------------


def _general_query(query, params, precision):
    return jnp.einsum("bqhd,hde->bqhe", query, params["kernel"].astype(query.dtype), precision=precision)


def general_score(query, key, params, precision=None):
    return _qk(_general_query(query, params, precision), key, precision)


def general_as_dot(query, key, params, precision=None):
    # q W k = (q W) . k: only the query is transformed.
    return DotForm(_general_query(query, params, precision), key)


def general_init(rng, num_heads, head_dim, dtype=_F32):
    # Identity / sqrt(d): the score starts out equal to scaled_dot and learns from there.
    del rng
    eye = jnp.eye(head_dim, dtype=dtype) / math.sqrt(head_dim)
    return {"kernel": jnp.broadcast_to(eye, (num_heads, head_dim, head_dim))}


# --- additive (Bahdanau) --------------------------------------------------------------------------


def _additive_logits(query, key, params, extra, precision=None):
    """v . tanh(W q + U k + b + extra), ``extra`` float32 ``[B, H, Lq, Lk, A]``: the coverage form,
    whose extra term is per pair, so it cannot take :func:`tanh_sum`."""
    form = additive_as_additive(query, key, params, precision)
    x = form.query.transpose(0, 2, 1, 3)[:, :, :, None, :]  # [B, H, Lq, 1, A]
    y = form.key.astype(_F32).transpose(0, 2, 1, 3)[:, :, None, :, :]  # [B, H, 1, Lk, A]
    # [B, H, Lq, Lk, A]: the memory this needs is why long inputs go through the chunked version.
    hidden = jnp.tanh(x + y + extra)
    return jnp.einsum("bhqka,ha->bhqk", hidden, form.v.astype(_F32), precision=precision)


def additive_as_additive(query, key, params, precision=None):
    dtype = query.dtype
    x = jnp.einsum("bqhd,hda->bqha", query, params["query_kernel"].astype(dtype), precision=precision)
    y = jnp.einsum("bkhd,hda->bkha", key, params["key_kernel"].astype(dtype), precision=precision)
    return AdditiveForm(x.astype(_F32) + params["bias"].astype(_F32)[None, None], y, params["v"])


def additive_score(query, key, params, precision=None):
    return additive_as_additive(query, key, params, precision).logits()


def additive_coverage_init(rng, num_heads, head_dim, score_params):
    # w_c has the hidden size a of the tanh layer; zero, as for LOGIT_COVERAGE.
    del rng, head_dim
    return {"w_c": jnp.zeros((num_heads, score_params["v"].shape[-1]), _F32)}


def additive_coverage_logits(fn, query, key, score_params, coverage_params, coverage, precision=None):
    # See et al. (2017), eq. 11: e_i = v . tanh(W_h h_i + W_s s_t + w_c c_i + b).
    del fn
    extra = coverage.astype(_F32)[:, None, :, :, None] * coverage_params["w_c"].astype(_F32)[None, :, None, None, :]
    return _additive_logits(query, key, score_params, extra, precision=precision)


ADDITIVE_COVERAGE = CoverageForm(additive_coverage_init, additive_coverage_logits)


def additive_init(rng, num_heads, head_dim, hidden_dim: Optional[int] = None, dtype=_F32):
    hidden_dim = head_dim if hidden_dim is None else hidden_dim
    if hidden_dim <= 0:
        raise ValueError(f"hidden_dim must be positive, got {hidden_dim}")
    kq, kk, kv = jax.random.split(rng, 3)
    kernel_std = 1.0 / math.sqrt(head_dim)
    return {
        "query_kernel": kernel_std * jax.random.normal(kq, (num_heads, head_dim, hidden_dim), dtype),
        "key_kernel": kernel_std * jax.random.normal(kk, (num_heads, head_dim, hidden_dim), dtype),
        "bias": jnp.zeros((num_heads, hidden_dim), dtype),
        "v": jax.random.normal(kv, (num_heads, hidden_dim), dtype) / math.sqrt(hidden_dim),
    }


# --- cosine ---------------------------------------------------------------------------------------

_NORM_EPS = 1e-6  # keeps the gradient finite for an all-zero vector


def _unit(x: Array) -> Array:
    x = x.astype(_F32)
    return x * jax.lax.rsqrt(jnp.sum(x * x, axis=-1, keepdims=True) + _NORM_EPS)


def cosine_score(query, key, params, precision=None):
    cos = _qk(_unit(query), _unit(key), precision)
    return cos * _per_head(jnp.exp(params["log_scale"]))


def cosine_as_dot(query, key, params, precision=None):
    del precision
    return DotForm(_unit(query) * _per_head_vector(jnp.exp(params["log_scale"])), _unit(key))


def cosine_init(rng, num_heads, head_dim, temperature: float = 10.0, dtype=_F32):
    # A cosine lies in [-1, 1]; the temperature (10, as in Swin v2) lets the softmax get peaked.
    del rng, head_dim
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return {"log_scale": jnp.full((num_heads,), math.log(temperature), dtype)}


# --- gaussian (negative squared distance) ----------------------------------------------------------


def gaussian_score(query, key, params, precision=None):
    q = query.astype(_F32)
    k = key.astype(_F32)
    q_sq = jnp.sum(q * q, axis=-1).transpose(0, 2, 1)[:, :, :, None]  # [B, H, Lq, 1]
    k_sq = jnp.sum(k * k, axis=-1).transpose(0, 2, 1)[:, :, None, :]  # [B, H, 1, Lk]
    # |q - k|^2 expanded so the pairwise part is one matmul; rounding can make it slightly negative.
    sq_dist = jnp.maximum(q_sq + k_sq - 2.0 * _qk(q, k, precision), 0.0)
    inv_two_var = _per_head(0.5 * jnp.exp(-2.0 * params["log_sigma"]))
    return -sq_dist * inv_two_var


def gaussian_as_dot(query, key, params, precision=None):
    # -|q - k|^2 / (2 s^2) = q.k / s^2 - |k|^2 / (2 s^2) - |q|^2 / (2 s^2); the last term is the same
    # for every key of a query row, so the softmax ignores it.
    del precision
    inv_var = jnp.exp(-2.0 * params["log_sigma"].astype(_F32))  # [H]
    k = key.astype(_F32)
    k_sq = jnp.sum(k * k, axis=-1).transpose(0, 2, 1)[:, :, None, :]  # [B, H, 1, Lk]
    return DotForm(query.astype(_F32) * _per_head_vector(inv_var), k, -0.5 * _per_head(inv_var) * k_sq)


def gaussian_init(rng, num_heads, head_dim, sigma: Optional[float] = None, dtype=_F32):
    # Default 2 sigma^2 = sqrt(d): then -|q-k|^2/(2 sigma^2) = 2 q.k/sqrt(d) + per-row constant - |k|^2/sqrt(d),
    # on the scale of scaled_dot.
    del rng
    sigma = math.sqrt(math.sqrt(head_dim) / 2.0) if sigma is None else sigma
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    return {"log_sigma": jnp.full((num_heads,), math.log(sigma), dtype)}


for _score in (
    Score("dot", dot_score, None, "q . k", dot_form=dot_as_dot),
    Score("scaled_dot", scaled_dot_score, None, "q . k / sqrt(d)", dot_form=scaled_dot_as_dot),
    Score("general", general_score, general_init, "q W k (Luong bilinear)", dot_form=general_as_dot),
    Score("additive", additive_score, additive_init, "v . tanh(W q + U k + b) (Bahdanau)",
          pair_width=lambda params: SCAN_PAIR_WIDTH, coverage=ADDITIVE_COVERAGE,
          additive_form=additive_as_additive, keys_only_pooling=True),
    Score("cosine", cosine_score, cosine_init, "temperature * cos(q, k)", dot_form=cosine_as_dot),
    Score("gaussian", gaussian_score, gaussian_init, "-|q - k|^2 / (2 sigma^2)", dot_form=gaussian_as_dot),
):
    register_score(_score)
del _score
