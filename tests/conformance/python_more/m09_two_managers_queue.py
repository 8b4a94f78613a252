# Two managers on one thread, run_next'ed alternately by the main program,
# sharing a Queue: a getter in tm1 finds items put by tm2 (no waiting), a
# getter in tm1 with a timeout waits while tm2 puts.
from h import *
q = Queue()
def producer():
    for i in range(3):
        yield q.put('p%d' % i)
        print 'tm2 put p%d len %d' % (i, len(q))
def consumer():
    yield sleep(0.05)
    for i in range(3):
        x = yield q.get()
        print 'tm1 got', x, 'len', len(q)
    try:
        x = yield q.get(timeout=0.1)
        print 'tm1 got late', x
    except Timeout:
        print 'tm1 timeout, len', len(q)
def late():
    yield sleep(0.1)
    yield q.put('late')
    print 'tm2 put late'
tm1 = TaskManager()
tm2 = TaskManager()
tm1.add(consumer())
tm2.add(producer())
tm2.add(late())
for i in range(12):
    if tm1.has_runnable() or tm1.has_timeouts() or tm1.has_io_waits():
        tm1.run_next(timeout=0.03)
        print '| tm1', tm1.has_runnable(), tm1.has_timeouts()
    if tm2.has_runnable() or tm2.has_timeouts() or tm2.has_io_waits():
        tm2.run_next(timeout=0.03)
        print '| tm2', tm2.has_runnable(), tm2.has_timeouts()
print 'len', len(q)
