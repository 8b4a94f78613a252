# A task waits readable / recv on a socket that another task writes to
# directly (not yielded): later in the same pass, earlier in the same pass,
# and from the main program between run_next calls.
from h import *
import socket
a, b = socket.socketpair()
c, d = socket.socketpair()
def waiter(name, sock, n):
    for i in range(n):
        yield readable(sock)
        print name, 'readable', repr(sock.recv(100))
def rwaiter(name, sock):
    data = yield recv(sock, 100)
    print name, 'recv', repr(data)
def writer():
    a.send('w1')
    print 'writer sent w1'
    yield
    a.send('w2')
    print 'writer sent w2'
    c.send('c1')
    print 'writer sent c1'
    yield
    print 'writer done'
tm = TaskManager()
tm.add(writer())
tm.add(waiter('wb', b, 3))
tm.add(rwaiter('rd', d))
for i in range(6):
    tm.run_next(timeout=0.05)
    print '|'
    if i == 3:
        a.send('main')
        print 'main sent'
print 'io', tm.has_io_waits()
