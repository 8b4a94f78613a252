from h import *
import socket
a, b = socket.socketpair()
a.setblocking(0); b.setblocking(0)
c, d = socket.socketpair()
a.send('x'); c.send('y')
def t():
    yield readable(b)
    print 't registered'
    yield readable(b)
    print 't again'
def u():
    yield readable(d)
    print 'u registered'
    print 'u drained', repr(d.recv(100))
    yield readable(d)
    print 'u readable', repr(d.recv(100))
def v():
    yield readable(b)
    print 'v registered'
    data = yield recv(b, 100)
    print 'v got', repr(data)
def w():
    for i in range(3):
        print 'w', i
        yield
    c.send('z')
    print 'w sent'
tm1 = TaskManager(); tm2 = TaskManager()
tm2.add(t()); tm2.add(u()); tm2.add(v())
tm1.add(w())
tm2.run_next(); print '|'
tm2.run_next(); print '|'
tm1.merge(tm2)
print 'merged'
passes(tm1)
