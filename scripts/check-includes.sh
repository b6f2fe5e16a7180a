#!/bin/sh
# Fails (exit 1, one "file:line: why" per offence) on an #include that crosses
# a layer the wrong way (docs/architecture.md, "Layers"):
#   - a lower layer including an upper one
#     (common -> storage -> remote -> jobs -> server);
#   - a layer including a header of a lower layer that is not in that layer's
#     facade (cmake/facade.txt);
#   - a facade header including an internal header of its own layer (the
#     upper layers that include it would not compile);
#   - civetweb anywhere but server/, libcurl anywhere but remote/.
# The build enforces the facades too (internal headers are not on an upper
# layer's include path); this check also catches what the include path cannot
# (upward includes, system headers) and names the line.
# Usage: scripts/check-includes.sh [source root]   (default: this checkout)
set -eu
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
facade=cmake/facade.txt
[ -f "$facade" ] || { echo "check-includes: $facade missing" >&2; exit 2; }

# One awk pass over every source file of every layer: the header index (which
# layer owns a header name) comes from the directory listings, the facade
# from cmake/facade.txt.
layers="common storage remote jobs server"
files=
for l in $layers; do
    for f in "$l"/*.c "$l"/*.h; do
        [ -f "$f" ] && files="$files $f"
    done
done
headers=$(for l in $layers; do for h in "$l"/*.h; do [ -f "$h" ] && echo "$h"; done; done)

# shellcheck disable=SC2086
awk -v layers="$layers" -v headers="$headers" -v facade_file="$facade" '
BEGIN {
    n = split(layers, L, " ")
    for (i = 1; i <= n; i++) rank[L[i]] = i
    m = split(headers, H, "\n")
    for (i = 1; i <= m; i++) {
        split(H[i], p, "/")
        if (p[2] in owner && owner[p[2]] != p[1]) {
            printf "%s: header name also in %s/ (bare includes must be unique)\n", H[i], owner[p[2]]
            bad = 1
        }
        owner[p[2]] = p[1]
    }
    # the protoc-c output sits between common and storage
    owner["meta.pb-c.h"] = "proto"; rank["proto"] = 1.5; facade["proto", "meta.pb-c.h"] = 1
    while ((getline line < facade_file) > 0) {
        sub(/#.*/, "", line)
        if (split(line, w, /[ \t]+/) < 2) continue
        if (!(w[1] in rank)) { printf "%s: unknown layer \"%s\"\n", facade_file, w[1]; bad = 1; continue }
        if (owner[w[2]] != w[1]) { printf "%s: %s is not a header of %s/\n", facade_file, w[2], w[1]; bad = 1; continue }
        facade[w[1], w[2]] = 1
    }
}
FNR == 1 { split(FILENAME, p, "/"); me = p[1]; base = p[2]; me_facade = ((me, base) in facade) }
/^[ \t]*#[ \t]*include[ \t]*[<"]/ {
    line = $0
    sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
    q = substr(line, 1, 1)
    name = substr(line, 2)
    sub(/[">].*/, "", name)
    if (name ~ /(^|\/)civetweb\.h$/ && me != "server") {
        printf "%s:%d: civetweb belongs to server/ (HTTP stays in the server layer)\n", FILENAME, FNR; bad = 1
    }
    if (name ~ /^curl\// && me != "remote") {
        printf "%s:%d: libcurl belongs to remote/ (network clients live there)\n", FILENAME, FNR; bad = 1
    }
    if (q != "\"" || !(name in owner)) next
    them = owner[name]
    if (rank[them] > rank[me]) {
        printf "%s:%d: %s/ includes %s from the upper layer %s/\n", FILENAME, FNR, me, name, them; bad = 1
    } else if (them != me && !((them, name) in facade)) {
        printf "%s:%d: %s is internal to %s/ (not in %s)\n", FILENAME, FNR, name, them, facade_file; bad = 1
    } else if (them == me && me_facade && !((me, name) in facade)) {
        printf "%s:%d: facade header includes %s, internal to %s/\n", FILENAME, FNR, name, me; bad = 1
    }
}
END { exit bad ? 1 : 0 }
' $files && status=0 || status=$?
if [ "$status" -ne 0 ]; then
    echo "check-includes: layer violations (see docs/architecture.md)" >&2
    exit 1
fi
echo "check-includes: ok"
