# Stopping tasks with gen.close(), as rtmplite and p2p-sip do: a writer task
# waiting on its queue's get, a reader waiting on a recv, and a parent
# waiting on a child that sleeps, each closed from another task; then the
# queue, the socket and the child's progress are looked at, and new tasks
# take over the queue and the socket.
from h import *
import socket
a, b = socket.socketpair()
tm = TaskManager()
q = Queue()
def writer(name):
    try:
        while True:
            item = yield q.get()
            if item is None:
                print name, 'ends'
                break
            print name, 'got', item
    except GeneratorExit:
        print name, 'closed'
        raise
def reader(name):
    try:
        while True:
            data = yield recv(b, 100)
            if not data:
                print name, 'eof'
                break
            print name, 'read', repr(data)
    except GeneratorExit:
        print name, 'closed'
        raise
def child():
    for i in range(3):
        yield sleep(0.05)
        print 'child step', i
    raise StopIteration('child result')
def parent():
    try:
        r = yield child()
        print 'parent got', r
    except GeneratorExit:
        print 'parent closed'
        raise
def controller():
    w, r, p = writer('w1'), reader('r1'), parent()
    for g in (w, r, p):
        tm.add(g)
    yield
    yield
    yield q.put('one')
    yield
    for g in (w, r, p):
        g.close()
    print 'closed all, io waits', tm.has_io_waits(), 'timeouts', tm.has_timeouts()
    yield q.put('two')
    print 'queue holds', len(q)
    a.send('first')
    yield sleep(0.2)
    print 'after sleep, io waits', tm.has_io_waits()
    tm.add(writer('w2'))
    tm.add(reader('r2'))
    yield
    a.send('second')
    yield q.put('three')
    yield sleep(0.05)
    a.close()
    yield q.put(None)
tm.add(controller())
passes(tm, 100)
