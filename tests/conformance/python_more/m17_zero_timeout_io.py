# I/O waits with timeout 0: on a ready fd (the poll finds it: no Timeout),
# on a fd that is not ready (Timeout at the same run_next's timeout check),
# and a recv/readline with timeout 0 on ready data.
from h import *
import socket
a, b = socket.socketpair()
c, d = socket.socketpair()
fb = b.makefile('r', 0)
def ready():
    yield readable(b, timeout=0)
    print 'ready: readable'
    yield writable(b, timeout=0)
    print 'ready: writable'
    line = yield readline(fb, timeout=0)
    print 'ready: line', repr(line)
    data = yield recv(b, 100, timeout=0)
    print 'ready: recv', repr(data)
    try:
        yield recv(b, 100, timeout=0)
        print 'ready: recv?'
    except Timeout:
        print 'ready: recv timeout'
def notready():
    try:
        yield readable(d, timeout=0)
        print 'notready: readable?'
    except Timeout:
        print 'notready: timeout'
    try:
        yield recv(d, 100, timeout=0)
    except Timeout:
        print 'notready: recv timeout'
def t(n):
    for i in range(n):
        print 'tick', i
        yield
a.send('line\nrest')
tm = TaskManager()
tm.add(ready())
tm.add(notready())
tm.add(t(8))
passes(tm)
