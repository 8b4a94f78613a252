from h import *
import socket
a, b = socket.socketpair()
def reader():
    print 'reader waits'
    data = yield recv(b, 100)
    print 'reader got', repr(data)
def direct_writer():
    print 'dw 1'
    yield
    print 'dw 2 sending'
    a.send('xyz')
    yield
    print 'dw 3'
    yield
    print 'dw 4'
def ticker():
    for i in range(5):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(reader())
tm.add(direct_writer())
tm.add(ticker())
passes(tm)
