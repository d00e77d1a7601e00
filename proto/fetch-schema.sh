#!/bin/sh
# Fetches the Cloud Ops API schema at the pinned upstream commits into DEST, laid out as
# CLOUD_API_DIR expects (the commits are pinned in the Makefile):
#   temporal/api/cloud/**            from CLOUD_API_REPO at CLOUD_API_COMMIT (with VERSION)
#   temporal/api/{common,enums}/v1   from TEMPORAL_API_REPO at TEMPORAL_API_COMMIT
#   google/api/*                     from TEMPORAL_API_REPO too
#   protoc-gen-openapiv2/options/*   from GRPC_GATEWAY_REPO at GRPC_GATEWAY_COMMIT
# The repository URLs may be overridden (a spec runs this against local repositories).
set -eu

dest=${1:?usage: fetch-schema.sh DEST}
: "${CLOUD_API_REPO:?}" "${CLOUD_API_COMMIT:?}" "${TEMPORAL_API_REPO:?}" "${TEMPORAL_API_COMMIT:?}"
: "${GRPC_GATEWAY_REPO:?}" "${GRPC_GATEWAY_COMMIT:?}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# fetch NAME URL COMMIT: a checkout of exactly COMMIT in $tmp/NAME.
fetch() {
  git init -q "$tmp/$1"
  if ! git -C "$tmp/$1" fetch -q --depth 1 "$2" "$3" 2>/dev/null; then
    git -C "$tmp/$1" fetch -q "$2" # servers that refuse a bare commit: fetch everything
  fi
  git -C "$tmp/$1" -c advice.detachedHead=false checkout -q "$3"
  echo "fetched $2 at $3"
}

fetch cloud-api "$CLOUD_API_REPO" "$CLOUD_API_COMMIT"
fetch temporal-api "$TEMPORAL_API_REPO" "$TEMPORAL_API_COMMIT"
fetch grpc-gateway "$GRPC_GATEWAY_REPO" "$GRPC_GATEWAY_COMMIT"

mkdir -p "$dest/temporal/api" "$dest/google" "$dest/protoc-gen-openapiv2"
rm -rf "$dest/temporal/api/cloud" "$dest/temporal/api/common" "$dest/temporal/api/enums" \
       "$dest/google/api" "$dest/protoc-gen-openapiv2/options"
cp -R "$tmp/cloud-api/temporal/api/cloud" "$dest/temporal/api/"
mkdir -p "$dest/temporal/api/common" "$dest/temporal/api/enums"
cp -R "$tmp/temporal-api/temporal/api/common/v1" "$dest/temporal/api/common/"
cp -R "$tmp/temporal-api/temporal/api/enums/v1" "$dest/temporal/api/enums/"
cp -R "$tmp/temporal-api/google/api" "$dest/google/"
cp -R "$tmp/grpc-gateway/protoc-gen-openapiv2/options" "$dest/protoc-gen-openapiv2/"
if [ -f "$tmp/cloud-api/VERSION" ]; then cp "$tmp/cloud-api/VERSION" "$dest/VERSION"; fi
for l in cloud-api temporal-api grpc-gateway; do
  if [ -f "$tmp/$l/LICENSE" ]; then cp "$tmp/$l/LICENSE" "$dest/LICENSE.$l"; fi
done
echo "schema in $dest"
