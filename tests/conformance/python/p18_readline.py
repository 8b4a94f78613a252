from h import *
import socket
a, b = socket.socketpair()
f = b.makefile('r', 0)
def r():
    line = yield readline(f)
    print 'line', repr(line)
    line = yield readline(f)
    print 'line', repr(line)
    line = yield readline(f)
    print 'line', repr(line)
def w():
    a.send('first\n')
    print 'sent first'
    yield
    print 'w tick'
    yield
    a.send('second\nthird\n')
    print 'sent 2+3'
    yield
    print 'w tick'
    yield
    print 'w tick'
    yield
    print 'w tick'
tm = TaskManager()
tm.add(r())
tm.add(w())
passes(tm)
