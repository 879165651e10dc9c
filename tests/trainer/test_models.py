"""Every model and optimizer learns an easy problem; DLRM interaction shapes are right."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypersearch_trainer.metrics import auc
from hypersearch_trainer.models import DLRM, build_model
from hypersearch_trainer.optim import Optimizer
from hypersearch_trainer.params import parse_params

COMBOS = [(m, o) for m in ("lr", "fm", "dlrm") for o in ("sgd", "adagrad", "adam")]
LR = {"sgd": "0.2", "adagrad": "0.1", "adam": "0.01"}
STEPS = 200
# DLRM with plain SGD learns too, but slowly: its first-order effects only reach the output
# through dot products with the bottom MLP's vector, and with a mean-reduced loss 200 steps at
# lr 0.2 barely move it (AUC ~0.52). It gets a larger step and more of them (AUC ~0.8).
SLOW = {("dlrm", "sgd"): ("2.0", 500)}


@pytest.mark.parametrize(("model", "optimizer"), COMBOS)
def test_models_learn(model: str, optimizer: str) -> None:
    torch.manual_seed(0)
    lr, steps = SLOW.get((model, optimizer), (LR[optimizer], STEPS))
    hp = parse_params(
        {"model": model, "optimizer": optimizer, "lr": lr, "hash_buckets": "4096",
         "weight_decay": "1e-6", "dropout": "0.1"}
    )  # fmt: skip
    m = build_model(hp, 2, 1)
    opt = Optimizer(m, hp)
    p = torch.rand(500)
    for _ in range(steps):
        cat = torch.randint(0, 500, (256, 2))
        cat[:, 1] += 500
        num = 1 + 0.1 * torch.randn(256, 1)  # numerics with a non-zero mean, as in real data
        y = (torch.rand(256) < p[cat[:, 0]]).float()
        loss = F.binary_cross_entropy_with_logits(m(cat, num), y)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    m.eval()
    cat = torch.randint(0, 500, (4000, 2))
    y = (torch.rand(4000) < p[cat[:, 0]]).float()
    with torch.no_grad():
        z = m(cat, 1 + 0.1 * torch.randn(4000, 1))
    score = auc(z.numpy(), y.numpy())
    assert score is not None and score > 0.65  # the true probabilities reach about 0.8


def test_dlrm_pairs_and_no_numeric() -> None:
    hp = parse_params({"model": "dlrm", "embedding_dim": "8", "top_mlp": "16"})
    m = build_model(hp, 5, 0)
    assert isinstance(m, DLRM) and m.bottom is None
    assert m(torch.randint(0, 100, (3, 5)), torch.zeros(3, 0)).shape == (3,)
    m2 = build_model(hp, 5, 3)
    assert m2._pairs.shape == (2, 15)  # 6 vectors (5 embeddings + dense) → 15 pairs
