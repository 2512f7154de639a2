#!/usr/bin/env bash
# Adds every public symbol that PublicApiAnalyzers reports as undeclared (RS0016) to its project's
# PublicAPI.Unshipped.txt, removes from it every declared symbol that no longer exists there (RS0017: removed, or moved
# to another package), then sorts the file. Review the diff: it is the public API change.
# Usage: src/update-public-api.sh [project-or-solution]
set -euo pipefail
target=${1:-Outbox.sln}
log=$(mktemp)
dotnet build "$target" --no-incremental -p:TreatWarningsAsErrors=false 2>&1 | tee "$log" >/dev/null || true
entries=$(grep -E "RS0016" "$log" | sed -nE "s/.*Symbol '(.*)' is not part of the declared public API.*\[(.*\.csproj)\]$/\2\t\1/p" | sort -u || true)
gone=$(grep -E "RS0017" "$log" | sed -nE "s/.*Symbol '(.*)' is part of the declared API, but is either not public or could not be found.*\[(.*\.csproj)\]$/\2\t\1/p" | sort -u || true)
printf '%s\n' "$gone" | cut -f1 | sort -u | while read -r proj; do
  [ -n "$proj" ] || continue
  file="$(dirname "$proj")/PublicAPI.Unshipped.txt"
  printf '%s\n' "$gone" | awk -F'\t' -v p="$proj" '$1 == p { print $2 }' > "$file.gone"
  grep -vxF -f "$file.gone" "$file" > "$file.new" || true
  mv "$file.new" "$file"
  rm -f "$file.gone"
done
# Only the projects that reported something are touched (others may be edited by someone else right now).
printf '%s\n' "$entries" | cut -f1 | sort -u | while read -r proj; do
  [ -n "$proj" ] || continue
  file="$(dirname "$proj")/PublicAPI.Unshipped.txt"
  { cat "$file"; printf '%s\n' "$entries" | awk -F'\t' -v p="$proj" '$1 == p { print $2 }'; } |
    grep -v '^#nullable enable$' | sort -u | { echo '#nullable enable'; cat; } > "$file.new"
  mv "$file.new" "$file"
done
rm -f "$log"
