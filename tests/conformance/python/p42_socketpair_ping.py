from h import *
import socket
a, b = socket.socketpair()
a.setblocking(0); b.setblocking(0)
def reader():
    for i in range(3):
        data = yield recv(b, 100)
        print 'reader got', repr(data)
def writer():
    for m in ['one', 'two', 'three']:
        n = yield send(a, m)
        print 'writer sent', n
        yield
def ticker():
    for i in range(8):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(reader()); tm.add(writer()); tm.add(ticker())
passes(tm)
