"""Creating and deleting a search's children (Trial resources, Pods, stage-2 workloads).

Every child is owned by the search; a create that meets an object of the same name adopts it
only if the search owns it, every delete carries the object's UID, and the administrator's rules
are checked again on the final object (after ``{{params.X}}`` substitution) before it is sent.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException

from hypersearch.engine import Trial
from hypersearch.kube.api import ForeignObject, Kube, refusal
from hypersearch.monitor import TemplateError
from hypersearch.spec.model import SearchSpec
from hypersearch.spec.safety import Admission, object_errors

Obj = dict[str, Any]


class ChildRefused(Exception):
    """The child cannot be created: a rule refuses it, or a stranger's object has its name."""


class Children:
    """One search's children in its namespace."""

    def __init__(self, kube: Kube, namespace: str, owner_uid: str, admission: Admission) -> None:
        self.kube, self.namespace, self.owner_uid = kube, namespace, owner_uid
        self.admission = admission

    async def create(self, body: Obj, check: bool = True) -> Obj | None:
        """Create ``body`` (None: it existed and is ours). Raises :class:`ChildRefused`."""
        problems = object_errors(body, self.admission) if check else []
        if problems:
            raise ChildRefused("; ".join(str(e) for e in sorted(problems)))
        try:
            return await self.kube.create(self.namespace, body, self.owner_uid)
        except ForeignObject as e:
            raise ChildRefused(str(e)) from e
        except ApiException as e:
            # 4xx other than 409 (handled above) and 429 (retried): asking again cannot help.
            if 400 <= (e.status or 0) < 500 and e.status != 429:
                meta = body.get("metadata") or {}
                raise ChildRefused(refusal(e, str(body.get("kind")), str(meta.get("name")))) from e
            raise

    async def delete(self, spec: SearchSpec, trial: Trial) -> bool:
        """Delete a trial's pod (stage 1) or workload (stage 2), if it is ours."""
        if trial.stage == 1:
            return await self.kube.delete(self.namespace, "v1", "Pod", trial.name, self.owner_uid)
        w = spec.workload
        return await self.kube.delete(
            self.namespace, w.api_version, w.kind, trial.name, self.owner_uid
        )


__all__ = ["ChildRefused", "Children", "TemplateError"]
