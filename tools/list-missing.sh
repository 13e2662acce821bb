#!/bin/sh
# Prints the functions compat/enosys.c still stubs, grouped by its area
# comments, as markdown list items (for docs/compat.md).
awk '
/^\/\* ---- / { a = $0; sub(/^\/\* ---- /, "", a); sub(/ *\*\/$/, "", a)
                n++; name[n] = a; next }
/^UV_EXTERN/ && match($0, /uv_[a-z0-9_]+\(/) {
  list[n] = list[n] " `" substr($0, RSTART, RLENGTH - 1) "`"
}
END { for (i = 1; i <= n; i++) if (list[i] != "") print "- " name[i] list[i] }
' "${1:-$(dirname "$0")/../compat/enosys.c}"
