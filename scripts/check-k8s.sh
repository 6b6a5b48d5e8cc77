#!/usr/bin/env bash
# Validates deploy/k8s offline (scripts/check-k8s.py): Kubernetes schemas (PyPI's
# kubernetes-validate), the ScaledObject against KEDA's CRD schema, and the rules that tie the
# manifests to the code.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import kubernetes_validate, jsonschema, yaml' 2>/dev/null; then
  python3 -m pip install --quiet kubernetes-validate jsonschema pyyaml
fi
python3 scripts/check-k8s.py
