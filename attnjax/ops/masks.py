"""Boolean attention masks: True means "may attend".

Attention masks have 4 dimensions ``[batch, heads, q_len, k_len]``, each either full size or 1 (so a
key padding mask ``[B, 1, 1, Lk]`` stays O(length), which the chunked attention relies on).
Token-level masks (``padding_mask``) are ``[batch, length]``.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

Array = jax.Array


def padding_mask(lengths: Array, max_length: int) -> Array:
    """``[batch, max_length]`` bool, True at positions ``< lengths[b]``."""
    lengths = jnp.asarray(lengths)
    if lengths.ndim != 1:
        raise ValueError(f"lengths must have shape [batch], got shape {lengths.shape}")
    if max_length < 0:
        raise ValueError(f"max_length must be >= 0, got {max_length}")
    return jnp.arange(max_length)[None, :] < lengths[:, None]


def padding_mask_from_ids(token_ids: Array, pad_id: int = 0) -> Array:
    """``[batch, length]`` bool, True where ``token_ids != pad_id``."""
    token_ids = jnp.asarray(token_ids)
    if token_ids.ndim != 2:
        raise ValueError(f"token_ids must have shape [batch, length], got shape {token_ids.shape}")
    return token_ids != pad_id


def _check_token_mask(name: str, mask: Array) -> Array:
    mask = jnp.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"{name} must have shape [batch, length], got shape {mask.shape}")
    return mask.astype(bool)


def key_padding_mask(key_valid: Array) -> Array:
    """``[B, Lk]`` token mask -> ``[B, 1, 1, Lk]`` attention mask (every query sees the valid keys)."""
    return _check_token_mask("key_valid", key_valid)[:, None, None, :]


def attention_mask(query_valid: Array, key_valid: Array) -> Array:
    """``[B, Lq]`` and ``[B, Lk]`` token masks -> ``[B, 1, Lq, Lk]``: valid query attends valid key.

    Padded query rows are fully masked; attention returns zeros for them.
    """
    query_valid = _check_token_mask("query_valid", query_valid)
    key_valid = _check_token_mask("key_valid", key_valid)
    if query_valid.shape[0] != key_valid.shape[0]:
        raise ValueError(
            f"query_valid has batch {query_valid.shape[0]} but key_valid has batch {key_valid.shape[0]}"
        )
    return query_valid[:, None, :, None] & key_valid[:, None, None, :]


def causal_mask(q_len: int, k_len: Optional[int] = None, offset: int = 0) -> Array:
    """``[1, 1, q_len, k_len]``: query ``i`` sees keys ``j <= i + offset``.

    ``offset=0`` aligns the first query with the first key, as ``jax.nn.dot_product_attention``
    (``is_causal=True``) does; ``offset = k_len - q_len`` aligns the last query with the last key,
    as in incremental decoding.
    """
    k_len = q_len if k_len is None else k_len
    if q_len < 0 or k_len < 0:
        raise ValueError(f"lengths must be >= 0, got q_len={q_len}, k_len={k_len}")
    q_idx = jnp.arange(q_len)[:, None]
    k_idx = jnp.arange(k_len)[None, :]
    return (k_idx <= q_idx + offset)[None, None]


def combine_masks(*masks: Optional[Array]) -> Optional[Array]:
    """Logical AND of the given attention masks (None entries are skipped; all None -> None)."""
    present = [jnp.asarray(m) for m in masks if m is not None]
    if not present:
        return None
    for i, m in enumerate(present):
        if m.ndim != 4:
            raise ValueError(
                f"mask {i} has shape {m.shape}; expected 4 dims [batch, heads, q_len, k_len]"
            )
    try:
        shape = jnp.broadcast_shapes(*(m.shape for m in present))
    except ValueError:
        raise ValueError(
            f"masks have shapes {[m.shape for m in present]} that do not broadcast together"
        ) from None
    out = jnp.ones(shape, bool)
    for m in present:
        out = out & m.astype(bool)
    return out
