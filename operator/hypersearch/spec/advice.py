"""Warnings, not errors: settings of a valid spec that the project's own benchmark measured to
search poorly (docs/benchmarks.md). ``hypersearch validate`` and ``hypersearch run`` print them,
the operator posts them in one ``SpecWarning`` event when it admits a search; none of them
refuses a spec.

Every warning rests on a figure of docs/benchmarks.md and quotes it, and fires only inside the
range the benchmark measured (its rates, prefixes and settings): where it measured nothing, this
module says nothing. The figures are from flights-3m (181 drifting days, 64 configurations,
subsets of 48, top 3 to stage 2) unless a warning names the 28-day cut or the synthetic reversal
stream. regret@k: % above the true best of the best of the stage-1 ranking's top k.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypersearch.spec.model import SearchSpec

SOURCE = "docs/benchmarks.md"
# The longest prefix the benchmark measured: t = 90 of flights-3m's 181 days.
PREFIX_DAYS, PREFIX_OF = 90, 181
# The sub-sampling rates it measured stopping, promotion and top-1 regret at: 1%, 3%, 10%.
LOW_RATE = 0.1
# The rates at which 1% and 3% samples cost as much as 10% and ranked worse.
VERY_LOW_RATE = 0.03
# The evaluation rate at which sub-sampled rankings broke.
LOW_EVAL_RATE = 0.01


@dataclass(frozen=True, order=True)
class SpecWarning:
    """A setting the benchmark found poor: the field, and the measured reason."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def spec_warnings(spec: SearchSpec) -> list[SpecWarning]:
    """Every benchmark-backed warning for a valid, parsed spec (sorted by field)."""
    out: list[SpecWarning] = []
    data = spec.stage1_data
    sampled = data.rate < 1.0
    prefix = data.start == 0 and data.stop < spec.windows
    if prefix and data.stop * PREFIX_OF <= PREFIX_DAYS * spec.windows:
        out.append(
            SpecWarning(
                "spec.stage1.data.stop",
                f"stage 1 trains on the first {data.stop} of {spec.windows} windows only (a "
                f"prefix): on drifting flights-3m, prefixes of 22, 45 and 90 of 181 days lost "
                f"2.85%, 1.87% and 0.59% regret@3 ({SOURCE}, search quality), where a 10% sample "
                f"of every day (stage1.data.rate: 0.1, no stop) lost 0.000% at 2.0x less compute "
                f"than a full search (prefix t=90: 1.6x)",
            )
        )
    if sampled and data.rate <= LOW_RATE and spec.stopping.rule in ("performance", "asha"):
        out.append(
            SpecWarning(
                "spec.stage1.stopping.rule",
                f"{spec.stopping.rule} stopping on a {data.rate:g} sample: on flights-3m, stopping "
                f"at rungs (eta 3) on 1%, 3% and 10% samples lost 10.48%, 4.39% and 4.42% regret@3 "
                f"(performance + constant; asha at 1%: 10.48%), the same samples without "
                f"stopping (rule: none) 1.03%, 1.21% and 0.000% ({SOURCE}, search quality)",
            )
        )
    if sampled and data.rate <= LOW_RATE and spec.top_k == 1:
        out.append(
            SpecWarning(
                "spec.stage2.topK",
                f"1 with a stage 1 on a {data.rate:g} sample: on flights-3m the best of a 1%, 3% "
                f"and 10% sample was 7.01%, 2.65% and 2.80% worse than the true best "
                f"(regret@1), the best of its top 3 1.03%, 1.21% and 0.000% (regret@3; "
                f"{SOURCE}, search quality)",
            )
        )
    if data.rate <= VERY_LOW_RATE:
        out.append(
            SpecWarning(
                "spec.stage1.data.rate",
                f"{data.rate:g}: on flights-3m 1% and 3% samples cost as much compute as 10% "
                f"(2.0-2.1x less than a full search: start-up and scoring dominate a run) and "
                f"lost 1.03% and 1.21% regret@3 where 10% lost 0.000% ({SOURCE}, search "
                f"quality; two-step at the lowest rate: 0.28% on flights/28d, 2.48% on the "
                f"reversal stream). On a larger stream a low rate saves more (trainer cost)",
            )
        )
    if sampled and data.eval_rate <= LOW_EVAL_RATE:
        out.append(
            SpecWarning(
                "spec.stage1.data.evalRate",
                f"{data.eval_rate:g}: on flights-3m (~16,600 examples a day) scoring 1% of "
                f"each day broke the sub-sampled rankings: 10% sampling lost 3.08% regret@3 "
                f"(0.000% at evalRate 0.1), 3% sampling and rate-halving +1.87 and +1.77 points "
                f"({SOURCE}, evaluation rate); the safe rate grows as the windows shrink",
            )
        )
    if spec.predictor.name == "trajectory":
        out.append(
            SpecWarning(
                "spec.stage1.predictor.name",
                f"trajectory never had a lower regret@3 than constant on flights-3m (10% "
                f"sample 0.590% vs 0.000%, prefix t=45 9.21% vs 1.87%, performance on 3% "
                f"13.50% vs 4.39%; {SOURCE}, search quality)",
            )
        )
    transfer = spec.transfer
    if transfer.name == "rate-aware" and sampled and transfer.batch_exponent > 0:
        out.append(
            SpecWarning(
                "spec.stage1.transfer.batchExponent",
                f"{transfer.batch_exponent:g}: batch x s (measured at batchExponent 1) lowered "
                f"regret@3 nowhere, cost +33-51% CPU on the reversal stream, and made "
                f"flights' true 3rd (FM + SGD, lr 0.10) diverge at batch 10 and 102 ({SOURCE}, "
                f"lead 1)",
            )
        )
    if transfer.name == "rate-aware" and sampled and transfer.lr_exponent < 0:
        out.append(
            SpecWarning(
                "spec.stage1.transfer.lrExponent",
                f"{transfer.lr_exponent:g}: lr x s^-0.5 with a fixed batch (measured) made 3 of "
                f"4 rankings worse, put the reversal stream's true best 14th and 11th "
                f"(regret@3 12.85% at 10%, 0.00% untransformed) and clipped 8 of 16 learning "
                f"rates to the space's max at 1% ({SOURCE}, lead 1)",
            )
        )
    if spec.promotion.name == "family" and data.rate >= LOW_RATE:
        out.append(
            SpecWarning(
                "spec.stage1.promotion.name",
                f"family on a {data.rate:g} sample: at 10% and 30% of the reversal stream it "
                f"displaced a good configuration of another family and lost 0.199% and 0.684% "
                f"regret@3 where rank lost 0.001%; it helped only at the lowest rate (3%: "
                f"2.480% -> 0.001%; flights/28d at 1%: 0.278% -> 0.000%) ({SOURCE}, leads 2 "
                f"and 4)",
            )
        )
    if spec.history.policy == "residual":
        out.append(
            SpecWarning(
                "spec.stage1.history.policy",
                f"residual: when the earlier searches trained only their top 3 in full (stage "
                f"2, the usual case) history never lowered regret@3 and cost +0.15-0.52 points "
                f"(flights-3m/28d at 1-10%: +0.15 to +0.33; reversal stream at 3%: +0.52); it "
                f"helped only when every earlier configuration was trained in full (reversal "
                f"stream at 3%: 2.480% -> 0.001%), and even then made flights-3m worse (+0.55 to "
                f"+0.71 at 1-3%) ({SOURCE}, lead 3)",
            )
        )
    return sorted(out)


__all__ = ["SpecWarning", "spec_warnings"]
