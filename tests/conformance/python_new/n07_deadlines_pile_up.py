# A task blocks the whole process (time.sleep) so that several deadlines are
# due at one step 2: sleepers, a queue getter and a putter with timeouts, and
# a hand-off made in the same pass.
from h import *
import time
q = Queue()
full = Queue(['x'], maxsize=1)
def blocker():
    yield
    print 'blocker blocks'
    time.sleep(0.1)
    print 'blocker unblocks'
    yield q.put('from blocker')
    print 'blocker put'
def g(name, t):
    try:
        x = yield q.get(timeout=t)
        print name, 'got', x
    except Timeout:
        print name, 'timeout'
def p(name, t):
    try:
        yield full.put(name, timeout=t)
        print name, 'put ok'
    except Timeout:
        print name, 'put timeout'
def s(name, t):
    yield sleep(t)
    print name, 'woke'
    if name == 's2':
        x = yield full.get()
        print name, 'took', x, 'len', len(full)
def late():
    yield sleep(0.2)
    x = yield full.get(timeout=0)
    print 'late took', x
    try:
        x = yield q.get(timeout=0)
        print 'late q', x
    except Timeout:
        print 'late q timeout'
tm = TaskManager()
tm.add(g('g1', 0.03))
tm.add(s('s1', 0.02))
tm.add(p('p1', 0.05))
tm.add(s('s2', 0.04))
tm.add(g('g2', 0.06))
tm.add(p('p2', 0.3))
tm.add(blocker())
tm.add(late())
passes(tm)
print 'end', len(q), len(full), tm.has_timeouts()
