# Two managers, each with sleepers, a socket wait and a queue wait, merged
# while everything waits; the merged one runs them all.
from h import *
import socket
a, b = socket.socketpair()
c, d = socket.socketpair()
q = Queue()
def s(name, t):
    yield sleep(t)
    print name, 'woke'
def r(name, sock):
    data = yield recv(sock, 100)
    print name, 'got', repr(data)
def g(name):
    x = yield q.get(timeout=0.2)
    print name, 'got', x
def w(sock, msg, t):
    yield sleep(t)
    yield send(sock, msg)
    print 'sent', msg
def p():
    yield sleep(0.07)
    yield q.put('qitem')
    print 'put qitem'
tm1 = TaskManager()
tm2 = TaskManager()
tm1.add(s('s1-40', 0.04))
tm1.add(r('r-b', b))
tm1.add(g('g1'))
tm2.add(s('s2-20', 0.02))
tm2.add(r('r-d', d))
tm2.add(s('s2-60', 0.06))
tm1.run_next()
print 'tm1 pass'
tm2.run_next()
print 'tm2 pass'
tm1.merge(tm2)
print 'merged', tm1.has_runnable(), tm1.has_io_waits(), tm1.has_timeouts()
tm2.add(w(a, 'to-b', 0.03))
tm1.add(w(c, 'to-d', 0.05))
tm2.add(p())
passes(tm1)
