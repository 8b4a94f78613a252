# A top-level error interrupts a pass; the next run_next polls and checks
# timeouts first, then runs everything queued (the rest of the old pass too).
from h import *
q = Queue()
def g():
    yield
    try:
        yield q.get(timeout=0)
        print 'g got?'
    except Timeout:
        print 'g timeout'
def bad():
    yield
    print 'bad raising'
    raise RuntimeError('boom')
def t(name, n):
    for i in range(n):
        print name, i
        yield
tm = TaskManager()
tm.add(g())
tm.add(bad())
tm.add(t('t', 4))
tm.add(t('u', 4))
passes(tm)
