"""The one adapter to the Kubernetes API.

Only this package imports the Kubernetes client library (lightkube, for kubeconfig, in-cluster config
and authenticated HTTP transport). Everything above sees plain `Manifest` dicts, `ObjectRef`s and the
error tree of `gitward.kube.errors`.
"""
