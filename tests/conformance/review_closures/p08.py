from h import *
import socket, errno
from multitask import FDAction
a, b = socket.socketpair()
a.setblocking(0); b.setblocking(0)
c, d = socket.socketpair(); d.setblocking(0)
def t1():
    try:
        v = yield FDAction(b, b.recv, (100,), read=True, write=True)
        print 't1 got', repr(v)
    except socket.error, e:
        print 't1 error', e.args[0]
def t2():
    try:
        v = yield FDAction(b, d.recv, (100,), read=True)
        print 't2 got', repr(v)
    except socket.error, e:
        print 't2 error', e.args[0]
def t3():
    yield
    yield
    a.send('x')
    print 'sent'
tm = TaskManager(); tm.add(t1()); tm.add(t3())
passes(tm)
print '--'
tm = TaskManager(); tm.add(t2()); tm.add(t3())
passes(tm)
