# A second recv on a socket whose first recv left data: 0.2.0 performs it at
# the next pass's select, so it includes bytes sent later in the same pass.
from h import *
import socket
a, b = socket.socketpair()
a.send('aaaa')
q = Queue()
def reader():
    data = yield recv(b, 2)
    print 'reader got', repr(data)
    yield q.put('go')
    data = yield recv(b, 100)
    print 'reader got', repr(data)
def late_sender():
    yield q.get()
    a.send('b')
    print 'late sender sent b'
    yield
tm = TaskManager()
tm.add(reader())
tm.add(late_sender())
passes(tm)
