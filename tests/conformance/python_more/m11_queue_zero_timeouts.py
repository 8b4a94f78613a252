# Queue gets with timeout 0 and small timeouts while items arrive in the
# same pass: before the getter, after it, and not at all.
from h import *
q = Queue()
def early_putter():
    yield q.put('e1')
    print 'early put e1'
def zero_getter(name):
    try:
        x = yield q.get(timeout=0)
        print name, 'got', x
    except Timeout:
        print name, 'timeout'
def late_putter():
    yield q.put('l1')
    print 'late put l1'
def small_getter():
    try:
        x = yield q.get(timeout=0.05)
        print 'small got', x
    except Timeout:
        print 'small timeout'
    try:
        x = yield q.get(timeout=0.05)
        print 'small got', x
    except Timeout:
        print 'small timeout'
def sleeper_putter():
    yield sleep(0.2)
    yield q.put('s1')
    print 'sleeper put s1'
    yield q.put('s2')
    print 'sleeper put s2'
def t(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(zero_getter('z1'))
tm.add(early_putter())
tm.add(zero_getter('z2'))
tm.add(zero_getter('z3'))
tm.add(late_putter())
tm.add(zero_getter('z4'))
tm.add(small_getter())
tm.add(sleeper_putter())
tm.add(t(4))
passes(tm)
print 'len', len(q), 'timeouts', tm.has_timeouts()
