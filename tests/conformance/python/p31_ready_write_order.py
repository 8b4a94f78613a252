from h import *
import socket
a, b = socket.socketpair()
def w():
    for i in range(2):
        yield writable(b)
        print 'writable', i
    for i in range(2):
        n = yield send(b, 'x')
        print 'sent', i, n
def t(name, n):
    for i in range(n):
        print name, i
        yield
tm = TaskManager()
tm.add(w())
tm.add(t('t', 6))
passes(tm)
print 'peer has', repr(a.recv(100))
