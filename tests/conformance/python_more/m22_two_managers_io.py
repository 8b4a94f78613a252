# Two managers on one thread, run_next'ed alternately: a socket read first by
# a task of tm1, then by a task of tm2; each manager's tasks write to sockets
# the other's tasks wait on.
from h import *
import socket
a, b = socket.socketpair()
c, d = socket.socketpair()
def first(name):
    data = yield recv(b, 100)
    print name, 'got', repr(data)
    yield send(c, 'to-d')
    print name, 'sent to-d'
def second(name):
    data = yield recv(d, 100)
    print name, 'got', repr(data)
    yield send(d, 'to-c')
    data = yield recv(b, 100, timeout=0.2)
    print name, 'got', repr(data)
def third(name):
    data = yield recv(c, 100)
    print name, 'got', repr(data)
    a.send('again')
    print name, 'sent again'
tm1 = TaskManager()
tm2 = TaskManager()
tm1.add(first('t1a'))
tm2.add(second('t2a'))
tm1.add(third('t1b'))
a.send('hello')
for i in range(10):
    for name, tm in (('tm1', tm1), ('tm2', tm2)):
        if tm.has_runnable() or tm.has_timeouts() or tm.has_io_waits():
            tm.run_next(timeout=0.03)
            print '|', name, tm.has_io_waits()
