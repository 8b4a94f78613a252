# A task waits readable on a socket; another task drains it directly in the
# same pass, before the next poll; the main program sends more between two
# run_next calls; likewise for recv.
from h import *
import socket
a, b = socket.socketpair()
def waiter():
    yield readable(b)
    print 'waiter readable, reads', repr(b.recv(100))
def drainer():
    print 'drainer takes', repr(b.recv(100))
    yield
    print 'drainer done'
def receiver():
    data = yield recv(b, 100)
    print 'receiver got', repr(data)
a.send('first')
tm = TaskManager()
tm.add(waiter())
tm.add(drainer())
for i in range(3):
    tm.run_next(timeout=0.05)
    print '| io', tm.has_io_waits(), 'run', tm.has_runnable()
a.send('second')
print 'main sent second'
tm.add(receiver())
for i in range(3):
    tm.run_next(timeout=0.05)
    print '| io', tm.has_io_waits(), 'run', tm.has_runnable()
a.send('third')
print 'main sent third'
for i in range(2):
    tm.run_next(timeout=0.05)
    print '| io', tm.has_io_waits(), 'run', tm.has_runnable()
