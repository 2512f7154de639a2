#!/usr/bin/env bash
# Adds every public symbol that PublicApiAnalyzers reports as undeclared (RS0016) to its project's
# PublicAPI.Unshipped.txt, then sorts the file. Review the diff: it is the public API change.
# Usage: src/update-public-api.sh [project-or-solution]
set -euo pipefail
target=${1:-Outbox.sln}
log=$(mktemp)
dotnet build "$target" --no-incremental -p:TreatWarningsAsErrors=false 2>&1 | tee "$log" >/dev/null || true
grep -E "RS0016" "$log" | sed -nE "s/.*Symbol '(.*)' is not part of the declared public API.*\[(.*\.csproj)\]$/\2\t\1/p" | sort -u |
while IFS=$'\t' read -r proj symbol; do
  file="$(dirname "$proj")/PublicAPI.Unshipped.txt"
  printf '%s\n' "$symbol" >> "$file"
done
for f in $(git ls-files 'src/*/PublicAPI.Unshipped.txt'; ls src/*/PublicAPI.Unshipped.txt); do
  { echo '#nullable enable'; grep -v '^#nullable enable$' "$f" | sort -u; } > "$f.tmp" && mv "$f.tmp" "$f"
done
rm -f "$log"
