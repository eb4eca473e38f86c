# syntax=docker/dockerfile:1.7
#
# One Dockerfile for every process of the platform (see deploy/k8s/README.md):
#
#   docker build --build-arg SERVICE=plate-pool -t tms/plate-pool:0.1.0 .
#   docker build --build-arg SERVICE=gateway --target gateway -t tms/gateway:0.1.0 .
#
# SERVICE is the workspace member's directory name: services/<SERVICE>, or `gateway`. The image holds
# that member, servicekit and their locked dependencies only; the api, worker and migration all run
# from the same image with different commands.
#
# The layout under /app mirrors the repository (pyproject.toml, libs/, services/<name>/ or gateway/)
# and the members are installed editable, so `python -m servicekit.migrate <service>` finds
# alembic.ini and migrations/ exactly where it finds them in a checkout.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

# Compile bytecode now: at run time the root filesystem is read-only and nothing can be cached.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

ARG SERVICE
WORKDIR /app
COPY pyproject.toml uv.lock ./

# Find the member for SERVICE in the lock file (its distribution name and its directory), so that
# the dependency layer below is built before any source is copied.
RUN python - "${SERVICE}" <<'PY'
import sys, tomllib
want = sys.argv[1]
if not want:
    sys.exit("build with --build-arg SERVICE=<service directory name | gateway>")
with open("uv.lock", "rb") as f:
    lock = tomllib.load(f)
for pkg in lock["package"]:
    src = pkg.get("source", {})
    path = src.get("editable") or src.get("directory")
    if path in (f"services/{want}", want):
        open("/app/.member-name", "w").write(pkg["name"])
        open("/app/.member-dir", "w").write(path)
        print(f"SERVICE={want}: package {pkg['name']} in {path}")
        break
else:
    sys.exit(f"no workspace member for SERVICE={want} in uv.lock (run `uv lock` after adding it)")
PY

# Dependencies only: a change to the source reuses this layer.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "$(cat /app/.member-name)"

# Then the source of servicekit and of this one member, nothing of the other services.
RUN --mount=type=bind,source=.,target=/ctx \
    dir="$(cat /app/.member-dir)" \
    && mkdir -p "$(dirname "$dir")" \
    && cp -a /ctx/libs libs \
    && cp -a "/ctx/$dir" "$dir"
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "$(cat /app/.member-name)" \
    && python -m compileall -q libs "$(cat /app/.member-dir)"

# --------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG SERVICE
# uid/gid 10001: the manifests run as this id (runAsUser) and refuse root (runAsNonRoot).
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app

# Nothing is written at run time except to /tmp (an emptyDir in Kubernetes), so the root
# filesystem can be mounted read-only.
ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    TMS_SERVICE=${SERVICE}

COPY --from=builder --chown=root:root /app /app
WORKDIR /app
USER 10001:10001
EXPOSE 8000

# The api by default; Kubernetes gives each process its own command (worker, migration).
CMD ["sh", "-c", "exec uvicorn --factory \"$(printf %s \"$TMS_SERVICE\" | tr - _)_service.main:create_app\" --host 0.0.0.0 --port 8000 --no-proxy-headers --http servicekit.web.http:CoalescingHttpToolsProtocol"]

# --------------------------------------------------------------------------------------------------
# The gateway: the same Python layer (gateway app and the nginx.conf renderer) plus Debian's nginx.
# One image serves the three containers of the gateway pod (render init step, nginx, app).
FROM runtime AS gateway

USER root
# nginx.conf comes from `python -m gateway_service.nginx`: standalone, in the foreground, logging to
# stderr/stdout, with its pid and temp files under its own directory. So nothing of Debian's
# configuration is used, and nginx writes nowhere else (the root filesystem can be read-only).
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/*
USER 10001:10001
EXPOSE 8000 8001

# Outside Kubernetes: render into /tmp and run nginx (the app runs from the same image as
#   uvicorn --factory gateway_service.app:create_app --port 8001).
# Kubernetes renders in an init container and runs `nginx -c /etc/nginx/nginx.conf -e stderr`.
CMD ["sh", "-c", "python -m gateway_service.nginx --out /tmp/nginx/nginx.conf && exec nginx -c /tmp/nginx/nginx.conf -e stderr"]

# The last stage is what a plain `docker build` without --target produces: a service image.
FROM runtime AS service
