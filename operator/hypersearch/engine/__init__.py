"""The search engine: pure Python, no Kubernetes and no I/O.

Executors (the Kopf operator, the local runner, the benchmark replay) feed it observations and
apply the actions it returns; its state is plain data so a restarted executor resumes exactly.
"""

from hypersearch.engine.actions import Action, Finish, ReuseRun, StartTrial, StopTrial
from hypersearch.engine.observations import TrialReport, WindowStat
from hypersearch.engine.planner import Search
from hypersearch.engine.trial import Trial, TrialState

__all__ = [
    "Action",
    "Finish",
    "ReuseRun",
    "Search",
    "StartTrial",
    "StopTrial",
    "Trial",
    "TrialReport",
    "TrialState",
    "WindowStat",
]
