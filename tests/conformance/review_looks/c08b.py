from h import *
import socket
c, d = socket.socketpair()
c.setblocking(0); d.setblocking(0)
c.send('y')
def u():
    yield readable(d)
    print 'u registered'
    print 'u drained', repr(d.recv(100))
    yield readable(d, timeout=1.0)
    print 'u readable'
def x():
    yield readable(d, timeout=1.0)
    print 'x readable'
def w():
    yield
    c.send('z')
    print 'w sent'
    yield
tm1 = TaskManager(); tm2 = TaskManager()
tm2.add(u())
tm2.run_next(); print '|'
tm2.run_next(); print '|'
tm1.add(x())
tm1.run_next(); print '|'
tm1.merge(tm2)
print 'merged'
tm1.add(w())
passes(tm1)
