#!/usr/bin/env python3
"""Per-message instruction deltas between two callgrind profiles of a role.

    callgrind-diff.py BEFORE.out AFTER.out MESSAGES

Prints, for the functions that moved most, the change in instructions per
message (total / MESSAGES), folding the module moves of the socket layer
v2 (weirmq::engine::x::f and weirmq::f count as one) so renamed functions
line up. Profiles come from callgrind-role.sh.
"""
import re,subprocess,sys
def load(f):
    out=subprocess.run(['callgrind_annotate','--threshold=100',f],capture_output=True,text=True).stdout
    d={}
    for line in out.splitlines():
        m=re.match(r'\s*([\d,]+) \([^)]*\)\s+(.*?)(?: \[.*\])?$',line)
        if not m: continue
        n=int(m.group(1).replace(',',''))
        name=m.group(2).split(':',1)[-1]
        name=re.sub(r'weirmq::(engine|socket|queue|pattern|api)::(\w+::)?','weirmq::',name)
        name=name.replace('weirmq::core::Core::try_send_round_robin','weirmq::<impl weirmq::Core>::try_send_lb')
        d[name]=d.get(name,0)+n
    return d
a=load(sys.argv[1]); b=load(sys.argv[2])
n=int(sys.argv[3])
rows=[(b.get(k,0)-a.get(k,0),k) for k in set(a)|set(b)]
rows.sort()
for dlt,k in rows[:8]+rows[-25:]:
    print(f"{dlt/n:+8.1f}  {a.get(k,0)/n:8.1f} -> {b.get(k,0)/n:8.1f}  {k[:130]}")
