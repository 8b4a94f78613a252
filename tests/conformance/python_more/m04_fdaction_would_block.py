# FDAction waiting on a readable socket whose function reads another,
# non-blocking, empty socket (EAGAIN), with a timeout.
from h import *
import socket
a, b = socket.socketpair()
c, d = socket.socketpair()
d.setblocking(0)
def other():
    print 'other called'
    return d.recv(100)
def waiter():
    try:
        r = yield multitask.FDAction(b, other, read=True, kwargs={'timeout': 0.2})
        print 'waiter got', repr(r)
    except Timeout:
        print 'waiter timeout'
    except socket.error, e:
        print 'waiter error', e.args[0]
def t(n):
    for i in range(n):
        print 'tick', i
        yield
a.send('x')
tm = TaskManager()
tm.add(waiter())
tm.add(t(3))
passes(tm)
