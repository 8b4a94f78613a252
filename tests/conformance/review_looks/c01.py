from h import *
import socket
a, b = socket.socketpair()
def r1():
    data = yield recv(b, 100)
    print 'r1 got', repr(data)
def r2():
    try:
        yield readable(b, timeout=0.1)
        print 'r2 readable'
    except Timeout:
        print 'r2 timeout'
def w():
    yield
    yield
    a.send('x')
    print 'w sent'
tm = TaskManager(); tm.add(r1()); tm.add(r2()); tm.add(w())
passes(tm)
