# The HyperSearch operator image: the `hypersearch` package without the trainer's heavy extras
# (torch, pyarrow, river are only needed in trainer images), installed with the repository's
# pinned versions (constraints.txt, shared with scripts/setup.sh and trainer_image/Dockerfile).
#   docker build -t ghcr.io/hypersearch/operator:0.1.0 .
# BASE_IMAGE: any Debian-like image whose `python`/`pip` are Python 3.11 (scripts/build-images.sh
# substitutes a locally built Debian base; the default is what users and CI get).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# pyproject maps both packages (hypersearch, hypersearch_trainer); both sources are small.
COPY constraints.txt pyproject.toml README.md ./
COPY operator/ operator/
COPY manifests/crds/ manifests/crds/
COPY trainer_image/ trainer_image/
# The CRD is the spec's schema: operator/hypersearch/spec/crd.yaml is a symlink into
# manifests/crds/, so copy the real file into the package before installing it.
RUN cp --remove-destination manifests/crds/hypersearch.yaml operator/hypersearch/spec/crd.yaml \
    && pip install -c constraints.txt . \
    && rm -rf /src

WORKDIR /
# The entrypoint imports without the trainer's extras. uid/gid 10001 (the chart's runAsUser and
# runAsGroup); not named "operator": Debian's base-passwd already has that group (gid 37).
RUN python -m hypersearch.kube --help >/dev/null \
    && groupadd --gid 10001 hypersearch \
    && useradd --uid 10001 --gid 10001 --no-create-home hypersearch
USER 10001
EXPOSE 8080
ENTRYPOINT ["python", "-m", "hypersearch.kube"]
CMD ["--metrics-port", "8080"]
