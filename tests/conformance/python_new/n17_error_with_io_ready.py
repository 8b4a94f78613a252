# A top-level task fails in a pass whose step 1 found several completions;
# the rest of the pass runs at the next run_next, after its poll.
from h import *
import socket
a, b = socket.socketpair()
c, d = socket.socketpair()
def r(name, sock):
    data = yield recv(sock, 100)
    print name, 'got', repr(data)
    data = yield recv(sock, 100)
    print name, 'got', repr(data)
def bad():
    yield
    yield
    print 'bad raising'
    raise RuntimeError('bad')
def w():
    yield
    a.send('1')
    print 'w sent 1'
    yield
    print 'w sends 2'
    a.send('2')
    yield
    print 'w after'
def t(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(r('rb', b))
tm.add(bad())
tm.add(w())
tm.add(t(6))
passes(tm)
