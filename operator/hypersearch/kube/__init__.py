"""The Kubernetes executor: a Kopf operator that drives the engine with trial Pods and Jobs.

Kubernetes is the database: the HyperSearch status holds the search-level decisions and each
child ``Trial`` resource holds its trial's engine record, so a restarted operator rebuilds the
engine exactly (:mod:`hypersearch.kube.state`). Never import this as ``operator``.
"""
