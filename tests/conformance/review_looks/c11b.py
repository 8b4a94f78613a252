from h import *
import socket
a, b = socket.socketpair()
f = b.makefile('r', 0)
def r():
    line = yield readline(f)
    print 'readline', repr(line)
def x():
    try:
        yield readable(b, timeout=0.2)
        print 'x ready'
    except Timeout:
        print 'x timeout'
def w():
    yield
    a.send('par')
    print 'sent par'
    yield sleep(0.4)
    a.send('tial\n')
    print 'sent tial'
    yield sleep(0.1)
tm = TaskManager(); tm.add(r()); tm.add(x()); tm.add(w())
passes(tm)
