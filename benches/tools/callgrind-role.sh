#!/bin/bash
# callgrind-role.sh BIN PORT SIDE N [SIZE]: runs weirmq-benches' thr-recv and
# thr-send roles of binary BIN on 127.0.0.1:PORT with N messages of SIZE
# octets (16), SIDE (send or recv) under callgrind, and prints that
# process's instruction total. The difference of two N gives instructions
# per message without the start-up. Profiles go to /tmp/p16/.
mkdir -p /tmp/p16
BIN=$1; PORT=$2; SIDE=$3; N=$4; SIZE=${5:-16}
OUT=/tmp/p16/cg.$SIDE.$(basename $BIN).$N.s$SIZE
rm -f $OUT /tmp/p16/fr$SIDE /tmp/p16/fs$SIDE; mkfifo /tmp/p16/fr$SIDE /tmp/p16/fs$SIDE
VR=""; VS=""
CG="valgrind --tool=callgrind --callgrind-out-file=$OUT"
[ $SIDE = recv ] && VR="$CG"; [ $SIDE = send ] && VS="$CG"
$VR $BIN role thr-recv --impl weirmq --endpoint tcp://127.0.0.1:$PORT --size $SIZE --count $N < /tmp/p16/fr$SIDE > /tmp/p16/cgr$SIDE.out 2>/tmp/p16/cgr$SIDE.err &
RP=$!
exec 3>/tmp/p16/fr$SIDE
for i in $(seq 400); do grep -q READY /tmp/p16/cgr$SIDE.out && break; sleep 0.05; done
$VS $BIN role thr-send --impl weirmq --endpoint tcp://127.0.0.1:$PORT --size $SIZE --count $N < /tmp/p16/fs$SIDE > /tmp/p16/cgs$SIDE.out 2>/tmp/p16/cgs$SIDE.err &
SP=$!
exec 4>/tmp/p16/fs$SIDE
for i in $(seq 2400); do grep -q RESULT /tmp/p16/cgr$SIDE.out && break; sleep 0.05; done
grep -q RESULT /tmp/p16/cgr$SIDE.out || { echo FAILED; tail -3 /tmp/p16/cgr$SIDE.err /tmp/p16/cgs$SIDE.err; }
sleep 0.5
exec 3>&- 4>&-
wait $RP $SP
echo "$(callgrind_annotate $OUT 2>/dev/null | grep -m1 'PROGRAM TOTALS' | awk '{print $1}')"
