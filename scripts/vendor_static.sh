#!/usr/bin/env bash
# Re-vendor the front-end libraries into static/vendor/ from the npm registry (never a CDN).
# Pinned versions; bump them here, run this script, and commit static/vendor/.
# Needs npm; works in a temporary directory, so no node_modules is left in the repository.
set -euo pipefail

BOOTSTRAP_VERSION=5.3.9
HTMX_VERSION=2.0.11 # htmx 2.x: hx-headers set on <body> is inherited by every request (4.x changed inheritance)
ECHARTS_VERSION=6.1.0
SORTABLEJS_VERSION=1.15.7 # the kanban board's drag and drop

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/static/vendor"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

fetch() { # fetch <package> <version> -> unpacked into $TMP/<package>/
    local pkg="$1" version="$2" tarball
    tarball="$(cd "$TMP" && npm pack --silent "$pkg@$version")"
    mkdir -p "$TMP/$pkg"
    tar -xzf "$TMP/$tarball" -C "$TMP/$pkg" --strip-components=1
}

fetch bootstrap "$BOOTSTRAP_VERSION"
fetch htmx.org "$HTMX_VERSION"
fetch echarts "$ECHARTS_VERSION"
fetch sortablejs "$SORTABLEJS_VERSION"

rm -rf "$VENDOR"
mkdir -p "$VENDOR/bootstrap" "$VENDOR/htmx" "$VENDOR/echarts" "$VENDOR/sortablejs"

install -m 644 "$TMP/bootstrap/dist/css/bootstrap.min.css" "$VENDOR/bootstrap/"
install -m 644 "$TMP/bootstrap/dist/js/bootstrap.bundle.min.js" "$VENDOR/bootstrap/"
install -m 644 "$TMP/bootstrap/LICENSE" "$VENDOR/bootstrap/LICENSE"

install -m 644 "$TMP/htmx.org/dist/htmx.min.js" "$VENDOR/htmx/"
install -m 644 "$TMP/htmx.org/LICENSE" "$VENDOR/htmx/LICENSE"

install -m 644 "$TMP/echarts/dist/echarts.min.js" "$VENDOR/echarts/"
install -m 644 "$TMP/echarts/LICENSE" "$VENDOR/echarts/LICENSE"
install -m 644 "$TMP/echarts/NOTICE" "$VENDOR/echarts/NOTICE" # Apache-2.0 asks to keep NOTICE with the code

install -m 644 "$TMP/sortablejs/Sortable.min.js" "$VENDOR/sortablejs/"
install -m 644 "$TMP/sortablejs/LICENSE" "$VENDOR/sortablejs/LICENSE"

# Minified files may point at source maps we do not ship; drop those comments so browsers do not
# request missing files and ManifestStaticFilesStorage (collectstatic) does not fail on them.
find "$VENDOR" -name '*.min.*' -exec sed -i -E \
    -e '/^\/\*# sourceMappingURL=.*\*\/$/d' -e '/^\/\/# sourceMappingURL=.*$/d' {} +

cat > "$VENDOR/VERSIONS" <<VERSIONS
bootstrap $BOOTSTRAP_VERSION
htmx.org $HTMX_VERSION
echarts $ECHARTS_VERSION
sortablejs $SORTABLEJS_VERSION
VERSIONS

echo "Vendored bootstrap $BOOTSTRAP_VERSION, htmx.org $HTMX_VERSION, echarts $ECHARTS_VERSION, sortablejs $SORTABLEJS_VERSION into $VENDOR"
