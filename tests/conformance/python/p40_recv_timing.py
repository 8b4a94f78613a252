# When does the manager perform a yielded recv on a readable socket?
from h import *
import socket
a, b = socket.socketpair()
a.send('a')
def reader():
    data = yield recv(b, 100)
    print 'reader got', repr(data)
def late_sender():
    a.send('b')
    print 'late sender sent b'
    yield
tm = TaskManager()
tm.add(reader())
tm.add(late_sender())
passes(tm)
