# Errors caught and re-raised through several levels; the ones that escape
# leave run(), which is called again; the other tasks carry on.
from h import *
class ProtoError(Exception): pass
q = Queue()
def leaf(n):
    yield
    raise ProtoError('leaf %d' % n)
def mid(n):
    try:
        yield leaf(n)
    except ProtoError, e:
        print 'mid caught', e
        raise RuntimeError('mid wraps %s' % e)
def top(n):
    try:
        yield mid(n)
    except RuntimeError, e:
        print 'top', n, 'caught', e
        if n == 2:
            raise
    print 'top', n, 'done'
def unguarded():
    yield q.get(timeout=0.02)
    print 'unguarded not reached'
def sl():
    yield sleep(0.05)
    print 'sleeper woke'
    yield q.put('late')
    print 'sleeper put'
def getter():
    x = yield q.get()
    print 'getter got', x
def ticker(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(top(1))
tm.add(top(2))
tm.add(unguarded())
tm.add(sl())
tm.add(getter())
tm.add(ticker(6))
k = 0
while True:
    try:
        tm.run()
        print 'run returned'
        break
    except Exception, e:
        k += 1
        print 'run raised %s: %r' % (type(e).__name__, str(e)), tm.has_runnable(), tm.has_io_waits(), tm.has_timeouts()
print 'end', k, len(q)
