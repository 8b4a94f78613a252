from h import *
q = Queue()
def waiter():
    print 'waiter wants'
    x = yield q.get()
    print 'waiter got', x
def s():
    yield sleep(0.01)
    print 'slept'
tm = TaskManager()
tm.add(waiter())
tm.add(s())
def st():
    print 'runnable', tm.has_runnable(), 'io', tm.has_io_waits(), 'timeouts', tm.has_timeouts()
st()
tm.run()
print 'run returned'
st()
def putter():
    yield q.put('late')
    print 'put late'
tm.add(putter())
st()
tm.run_next()
print '|'
st()
tm.run_next()
print '|'
st()
