# When does the manager perform a yielded send? 0.2.0: at the next pass's
# select (step 1), not at the yield.
from h import *
import socket, errno
a, b = socket.socketpair()
b.setblocking(0)
def reader():
    data = yield recv(b, 100)
    print 'reader got', repr(data)
def writer():
    n = yield send(a, 'x')
    print 'writer sent', n
def peeker():
    for i in range(3):
        try:
            r = repr(b.recv(100, socket.MSG_PEEK))
        except socket.error, e:
            r = 'EAGAIN' if e.args[0] == errno.EAGAIN else e.args[0]
        print 'peek', i, r
        yield
tm = TaskManager()
tm.add(reader())
tm.add(writer())
tm.add(peeker())
passes(tm)
