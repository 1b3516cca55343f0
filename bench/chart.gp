# Bar chart of server CPU microseconds per request, one cluster per scenario,
# one bar per server. bench/run calls it as
#   gnuplot -e "datafile='chart.dat'; outfile='chart.png'; ncols=N; subtitle='...'" chart.gp
# chart.dat: a header line "scenario SERVER1 SERVER2 ...", then one row per
# scenario; "-" marks a cell that was not measured.
set terminal pngcairo size 1100,600 font "DejaVu Sans,10"
set output outfile
set title "Server CPU per request (lower is better)\n{/*0.8 ".subtitle."}"
set ylabel "server CPU µs per request (utime+stime / requests)"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left autotitle columnhead
set grid ytics
set yrange [0:*]
set xtics nomirror
plot for [i=2:ncols] datafile using i:xtic(1)
