from h import *
import socket
from multitask import FDAction
a, b = socket.socketpair()
b.setblocking(0)
def r1():
    data = yield recv(b, 100)
    print 'r1 got', repr(data)
def r2():
    try:
        v = yield FDAction(b, lambda: 42, read=True, kwargs={'timeout': 0.1})
        print 'r2 action', v
    except Timeout:
        print 'r2 timeout'
def w():
    yield
    yield
    a.send('x')
    print 'w sent'
tm = TaskManager(); tm.add(r1()); tm.add(r2()); tm.add(w())
passes(tm)
