"""Git content for the dashboard's end-to-end tests: a small platform repository (a web shop with
a Deployment, a Service and its settings, a payments API, a nightly report Job that fails on the
node simulator, and a settings ConfigMap deployed by hand)."""

from __future__ import annotations

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app.kubernetes.io/name: web}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: registry.example.com/shop/web:{tag}
          ports: [{{containerPort: 8080}}]
          envFrom: [{{configMapRef: {{name: web-settings}}}}]
"""

WEB_SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-settings
data:
  greeting: "{greeting}"
"""

WEB_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""

PAYMENTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments-api
spec:
  replicas: 3
  selector:
    matchLabels: {app: payments-api}
  template:
    metadata:
      labels: {app: payments-api}
    spec:
      containers:
        - name: api
          image: registry.example.com/shop/payments:2.4.1
"""

REPORT = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: nightly-report
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {nodesim.gitward.dev/phase: Failed}
    spec:
      restartPolicy: Never
      containers:
        - name: report
          image: registry.example.com/shop/report:0.9
"""

SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-settings
data:
  theme: {theme}
  currency: EUR
"""


def web(tag: str, greeting: str, prefix: str = "") -> dict[str, str]:
    return {
        f"{prefix}deployment.yaml": WEB.format(tag=tag),
        f"{prefix}configmap.yaml": WEB_SETTINGS.format(greeting=greeting),
        f"{prefix}service.yaml": WEB_SERVICE,
    }


def platform() -> dict[str, str]:
    return {
        **web("1.4.0", "Welcome back", prefix="apps/storefront/"),
        "apps/payments/deployment.yaml": PAYMENTS,
        "apps/reports/job.yaml": REPORT,
        "apps/settings/configmap.yaml": SETTINGS.format(theme="light"),
    }
