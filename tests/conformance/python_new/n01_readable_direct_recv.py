# The module docstring's pattern: yield readable(sock, timeout), then a
# direct sock.recv(); the next readable() must wait for new data.
from h import *
import socket
a, b = socket.socketpair()
def reader():
    for i in range(3):
        try:
            yield readable(b, timeout=0.05)
            data = b.recv(1024)
            print 'reader got', repr(data)
        except Timeout:
            print 'reader timeout', i
def writer():
    yield sleep(0.01)
    a.send('one')
    print 'writer sent one'
    yield sleep(0.03)
    a.send('two')
    print 'writer sent two'
def ticker():
    for i in range(4):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(reader())
tm.add(writer())
tm.add(ticker())
passes(tm)
