"""The manifests' tools (run as files: ``python deploy/k8s/tools/NAME.py``); a package so tests import them as
``deploy.k8s.tools.NAME``."""
