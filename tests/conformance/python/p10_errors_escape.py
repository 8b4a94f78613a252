from h import *
def ticker(name, n):
    for i in range(n):
        print name, i
        yield
def bad():
    print 'bad start'
    yield
    print 'bad raising'
    raise RuntimeError('boom')
def child_bad():
    yield
    raise RuntimeError('kid')
def parent():
    print 'parent start'
    yield child_bad()
    print 'parent not reached'
def sl():
    yield sleep(0.01)
    print 'sleeper woke'
tm = TaskManager()
tm.add(ticker('a', 4))
tm.add(bad())
tm.add(ticker('b', 4))
tm.add(parent())
tm.add(sl())
while tm.has_runnable() or tm.has_io_waits() or tm.has_timeouts():
    try:
        tm.run()
        print 'run returned'
    except Exception, e:
        print 'run raised %s: %s' % (type(e).__name__, e)
print 'end'
