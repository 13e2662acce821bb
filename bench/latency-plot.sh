#!/bin/sh
# Draws the latency percentiles of echo servers as an SVG (on stdout):
# one group of bars per server, p50, p99 and p99.9, on a log scale.
# Reads echo-task.sh's result lines on stdin:
#
#   echo_NAME ... p50_us=V p99_us=V p999_us=V ...
#
# Servers with no percentiles ("-") are left out. Needs only awk.
#
# usage: latency-plot.sh [--title TEXT] < results > plot.svg
set -u

title='Echo latency'
while [ $# -gt 0 ]; do
  case $1 in
    --title) title=$2; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "latency-plot.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

awk -v title="$title" '
function val(line, key,    i, rest) {
  i = index(line, " " key "=")
  if (i == 0) return "-"
  rest = substr(line, i + length(key) + 2)
  sub(/ .*/, "", rest)
  return rest
}
function lg(x) { return log(x) / log(10) }
function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); return s }
function human(us) {
  if (us >= 1000000) return sprintf("%.2f s", us / 1000000)
  if (us >= 1000) return sprintf("%.1f ms", us / 1000)
  return sprintf("%.0f us", us)
}
$1 ~ /^echo_/ {
  p50 = val($0, "p50_us"); p99 = val($0, "p99_us"); p999 = val($0, "p999_us")
  if (p50 == "-" || p99 == "-" || p999 == "-" || p50 + 0 <= 0) next
  n++
  name[n] = substr($1, 6)
  v[n, 1] = p50 + 0; v[n, 2] = p99 + 0; v[n, 3] = p999 + 0
  for (k = 1; k <= 3; k++) {
    if (lo == "" || v[n, k] < lo) lo = v[n, k]
    if (hi == "" || v[n, k] > hi) hi = v[n, k]
  }
}
END {
  if (n == 0) { print "latency-plot.sh: no percentiles in the input" > "/dev/stderr"; exit 1 }
  e0 = int(lg(lo)); if (10 ^ e0 > lo) e0--
  e1 = int(lg(hi)); if (10 ^ e1 < hi) e1++
  if (e1 == e0) e1++
  left = 110; right = 90; top = 50; bar = 12; gap = 18
  plotw = 560; group = 3 * bar + gap
  width = left + plotw + right
  height = top + n * group + 50
  color[1] = "#4c78a8"; color[2] = "#f58518"; color[3] = "#e45756"
  label[1] = "p50"; label[2] = "p99"; label[3] = "p99.9"
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", width, height
  printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
  printf "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", left, esc(title)
  for (k = 1; k <= 3; k++) {
    x = left + (k - 1) * 90
    printf "<rect x=\"%d\" y=\"32\" width=\"10\" height=\"10\" fill=\"%s\"/>", x, color[k]
    printf "<text x=\"%d\" y=\"41\">%s</text>\n", x + 14, label[k]
  }
  for (e = e0; e <= e1; e++) {
    x = left + (e - e0) / (e1 - e0) * plotw
    printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ccc\"/>\n", x, top, x, top + n * group
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x, top + n * group + 16, human(10 ^ e)
  }
  printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">latency (log scale)</text>\n", left + plotw / 2, top + n * group + 36
  for (i = 1; i <= n; i++) {
    y = top + (i - 1) * group
    printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", left - 8, y + 1.5 * bar + 4, esc(name[i])
    for (k = 1; k <= 3; k++) {
      w = (lg(v[i, k]) - e0) / (e1 - e0) * plotw
      if (w < 1) w = 1
      yy = y + (k - 1) * bar
      printf "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", left, yy, w, bar - 1, color[k]
      printf "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%s</text>\n", left + w + 4, yy + bar - 2, human(v[i, k])
    }
  }
  print "</svg>"
}'
