# has_runnable/has_io_waits/has_timeouts between run_next calls while tasks
# move among waits: readable with a timeout, a queue get with a timeout, a
# child sleeping, a put handing over, a plain readable.
from h import *
import socket
a, b = socket.socketpair()
q = Queue()
def r():
    try:
        yield readable(b, timeout=0.1)
        print 'r readable'
    except Timeout:
        print 'r timeout'
    yield readable(b)
    print 'r readable 2'
def child():
    yield sleep(0.05)
    raise StopIteration('c')
def g():
    x = yield q.get(timeout=0.3)
    print 'g got', x
    x = yield child()
    print 'g child', x
    yield q.put('back')
    print 'g put back'
def p():
    yield sleep(0.15)
    yield q.put('item')
    print 'p put'
    a.send('z')
    print 'p sent'
tm = TaskManager()
tm.add(r())
tm.add(g())
tm.add(p())
for i in range(20):
    if not (tm.has_runnable() or tm.has_io_waits() or tm.has_timeouts()):
        break
    tm.run_next()
    print '|', tm.has_runnable(), tm.has_io_waits(), tm.has_timeouts(), len(q)
