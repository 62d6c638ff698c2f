#!/bin/sh
f() { echo "func $1"; return 3; }
f one; echo "rc=$?"
for i in 1 2 3; do printf '%s,' "$i"; done; echo
x=$( (echo sub; exit 4) ); echo "subshell: $x $?"
cat <<HERE | tr a-z A-Z
here doc $((2+3))
HERE
echo redirect > ${TMPDIR:-/tmp}/gvisor-dash-$$.txt; cat < ${TMPDIR:-/tmp}/gvisor-dash-$$.txt; echo append >> ${TMPDIR:-/tmp}/gvisor-dash-$$.txt; wc -l < ${TMPDIR:-/tmp}/gvisor-dash-$$.txt
sleep 0.2 & p=$!; echo bg started; wait $p; echo "bg done $?"
trap 'echo got USR1' USR1
kill -USR1 $$
echo after trap
( sleep 5 ) & k=$!; kill -TERM $k; wait $k; echo "killed status $?"
i=0; while [ $i -lt 3 ]; do i=$((i+1)); done; echo "loop $i"
case abc in a*) echo case-ok;; esac
rm -f ${TMPDIR:-/tmp}/gvisor-dash-$$.txt
