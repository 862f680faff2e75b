# plot.gp - the figure of `make bench`: round-trip latency per transport
# (same CPU and unpinned; median, p99, p99.9) and one-way throughput
# (64 B and 1 KiB).  Called by run-bench.sh with dir (data files) and png.
set terminal pngcairo size 1400,1000 font ",10" noenhanced
set output png
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics rotate by -25
set multiplot layout 3,1 title "ipcd-bench: ipcd and its baselines, one run"

set title "Round-trip latency, 64 B, same CPU (microseconds, log scale)"
set logscale y
plot dir."/lat-same-cpu.dat" using 2:xtic(1) title "median", \
     "" using 3 title "p99", \
     "" using 4 title "p99.9"

set title "Round-trip latency, 64 B, unpinned (microseconds, log scale)"
plot dir."/lat-unpinned.dat" using 2:xtic(1) title "median", \
     "" using 3 title "p99", \
     "" using 4 title "p99.9"

set title "One-way throughput (messages per second, log scale)"
plot dir."/thr.dat" using 2:xtic(1) title "64 B", \
     "" using 3 title "1 KiB"
unset multiplot
