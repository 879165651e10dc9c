"""Click-through-rate models over hashed categorical keys and transformed numeric features.

All models share one hashed embedding table per kind of weight (rows = ``hash_buckets``; field
salting in the hash keeps fields apart), updated row-wise (see ``optim``), so the cost of a step
depends on the batch, not on the table size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from hypersearch_trainer.optim import HashedEmbedding
from hypersearch_trainer.params import HyperParams


def bucket_indices(keys: npt.NDArray[np.uint64], buckets: int) -> torch.Tensor:
    """Embedding rows of 64-bit hashed keys: ``(key >> 1) mod buckets``.

    Shifting out one bit makes the keys valid int64, so torch's integer remainder (about 3x
    faster than numpy's uint64 modulo, which was a quarter of the evaluation cost) can be used.
    """
    return torch.from_numpy((keys >> np.uint64(1)).view(np.int64)).remainder(buckets)


def mlp(
    widths: list[int], n_in: int, dropout: float, last_activation: bool = True
) -> nn.Sequential:
    """Linear+ReLU(+Dropout) stack; ``widths`` includes the output width."""
    layers: list[nn.Module] = []
    for i, w in enumerate(widths):
        layers.append(nn.Linear(n_in, w))
        if i < len(widths) - 1 or last_activation:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        n_in = w
    return nn.Sequential(*layers)


class CTRModel(nn.Module):
    """Base: ``forward(cat, num)`` returns one logit per example."""

    def __init__(self, n_cat: int = 0, n_num: int = 0, hp: HyperParams | None = None) -> None:
        super().__init__()


class LogisticRegression(CTRModel):
    """Hashed logistic regression: one weight per bucket plus a linear term on numerics."""

    def __init__(self, n_cat: int, n_num: int, hp: HyperParams) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1))
        self.w = HashedEmbedding(hp.hash_buckets, 1, init_std=0.0)
        self.num = nn.Linear(n_num, 1, bias=False) if n_num else None

    def forward(self, cat: torch.Tensor, num: torch.Tensor) -> torch.Tensor:
        w = self.w(cat).squeeze(-1)  # [B, F]
        out: torch.Tensor = self.bias + w.sum(dim=1)
        if self.num is not None:
            out = out + self.num(num).squeeze(-1)
        return out


class FactorizationMachine(CTRModel):
    """Rendle's FM: linear terms plus all pairwise dot products of field vectors.

    Numeric features take part as real-valued fields (value times a learned vector).
    """

    def __init__(self, n_cat: int, n_num: int, hp: HyperParams) -> None:
        super().__init__()
        k = hp.embedding_dim
        self.linear = LogisticRegression(n_cat, n_num, hp)
        self.v = HashedEmbedding(hp.hash_buckets, k, init_std=0.01)
        self.v_num = nn.Parameter(torch.randn(n_num, k) * 0.01) if n_num else None
        self.dropout = nn.Dropout(hp.dropout) if hp.dropout > 0 else None

    def forward(self, cat: torch.Tensor, num: torch.Tensor) -> torch.Tensor:
        lin = self.linear(cat, num)
        v = self.v(cat)  # [B, F, k]
        if self.v_num is not None:
            v = torch.cat([v, num.unsqueeze(-1) * self.v_num], dim=1)
        if self.dropout is not None:
            v = self.dropout(v)
        s = v.sum(dim=1)
        inter = 0.5 * (s.pow(2) - v.pow(2).sum(dim=1)).sum(dim=1)
        out: torch.Tensor = lin + inter
        return out


class DLRM(CTRModel):
    """DLRM (Naumov et al. 2019): bottom MLP on numerics, embeddings, pairwise dot
    interactions, top MLP on [dense vector, interactions]."""

    def __init__(self, n_cat: int, n_num: int, hp: HyperParams) -> None:
        super().__init__()
        k = hp.embedding_dim
        # dot products of unit-scale vectors start O(1), so plain SGD can move them
        self.emb = HashedEmbedding(hp.hash_buckets, k, init_std=k**-0.5)
        self.bottom = mlp([*hp.bottom_widths, k], n_num, hp.dropout) if n_num else None
        n_vec = n_cat + (1 if n_num else 0)
        n_pairs = n_vec * (n_vec - 1) // 2
        self._pairs = torch.triu_indices(n_vec, n_vec, offset=1)
        n_top = n_pairs + (k if n_num else 0)
        self.top = mlp([*hp.top_widths, 1], n_top, hp.dropout, last_activation=False)

    def forward(self, cat: torch.Tensor, num: torch.Tensor) -> torch.Tensor:
        e = self.emb(cat)  # [B, F, k]
        parts = [e]
        dense: torch.Tensor | None = None
        if self.bottom is not None:
            dense = self.bottom(num)  # [B, k]
            parts.insert(0, dense.unsqueeze(1))
        z = torch.cat(parts, dim=1) if len(parts) > 1 else e
        dots = torch.bmm(z, z.transpose(1, 2))[:, self._pairs[0], self._pairs[1]]
        top_in = dots if dense is None else torch.cat([dense, dots], dim=1)
        out: torch.Tensor = self.top(top_in).squeeze(-1)
        return out


def build_model(hp: HyperParams, n_cat: int, n_num: int) -> CTRModel:
    """The model named by ``hp.model``."""
    cls: type[CTRModel] = {"lr": LogisticRegression, "fm": FactorizationMachine, "dlrm": DLRM}[
        hp.model
    ]
    return cls(n_cat, n_num, hp)
