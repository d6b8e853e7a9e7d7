#!/usr/bin/env bash
# Build the tiny local image the Docker tests and the demo fleet run.
# No registry can be reached from our machines, so the image is made from
# Debian's busybox-static binary on top of `scratch`. Idempotent: rebuilds only
# when the image is missing (pass --force to rebuild).
set -euo pipefail
IMAGE="${FLEETDECK_TEST_IMAGE:-fleetdeck-busybox:latest}"
if [[ "${1:-}" != "--force" ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
BUSYBOX="$(command -v busybox || true)"
if [[ -z "$BUSYBOX" ]] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q "statically linked"; then
    BUSYBOX=/bin/busybox
fi
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$BUSYBOX" "$ctx/busybox"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
CMD ["sh"]
DOCKERFILE
docker build -q -t "$IMAGE" "$ctx" >/dev/null
echo "built $IMAGE"
