"""gitward: a GitOps operator for Kubernetes.

The pipeline is the architecture: sourcing → rendering → planning → applying → health → status,
wired by the controller; `kube` is the only adapter to the Kubernetes API; `cli` and `server` are the
surfaces people use; `devcluster` runs a real local control plane for development and tests.
"""

__version__ = "0.1.0"
