"""What both executors share about running trials: scraping and the reports the engine gets,
health judged by time, and the executor's half of the control protocol. No Kubernetes, no
processes: the local runner and the operator each add only what is specific to where trials run.
"""

from hypersearch.monitor.health import HealthPolicy
from hypersearch.monitor.protocol import TemplateError, executor_env, linger_seconds, substitute
from hypersearch.monitor.watch import Monitor, Round, TrialWatch

__all__ = [
    "HealthPolicy",
    "Monitor",
    "Round",
    "TemplateError",
    "TrialWatch",
    "executor_env",
    "linger_seconds",
    "substitute",
]
