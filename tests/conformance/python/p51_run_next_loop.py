from h import *
import socket
a, b = socket.socketpair()
def waiter():
    try:
        data = yield recv(b, 100, timeout=0.25)
        print 'waiter got', repr(data)
    except Timeout:
        print 'waiter timeout'
    try:
        data = yield recv(b, 100, timeout=0.03)
        print 'waiter got?', repr(data)
    except Timeout:
        print 'waiter timeout 2'
def sleeper():
    yield sleep(0.1)
    print 'sleeper woke, sending'
    a.send('late')
    yield
    print 'sleeper done'
tm = TaskManager()
tm.add(waiter())
tm.add(sleeper())
n = 0
while tm.has_runnable() or tm.has_io_waits() or tm.has_timeouts():
    tm.run_next(0.04)
    n += 1
    print 'pass', n, tm.has_runnable(), tm.has_io_waits(), tm.has_timeouts()
print 'loop done'
