# Three tasks wait on one socket in one pass: readable, writable, and
# readable+writable (FDReady); then one drains it directly and a second
# readable (with a timeout) waits until more comes.
from h import *
import socket
a, b = socket.socketpair()
def r(name):
    yield readable(b)
    print name, 'readable'
    yield readable(b, timeout=0.1)
    print name, 'readable again'
def w():
    yield writable(b)
    print 'w writable'
    print 'w drains', repr(b.recv(100))
    yield writable(b)
    print 'w writable again'
def rw():
    yield multitask.FDReady(b, read=True, write=True)
    print 'rw ready'
def feeder():
    yield sleep(0.05)
    a.send('more')
    print 'feeder sent'
a.send('data')
tm = TaskManager()
tm.add(r('r1'))
tm.add(w())
tm.add(rw())
tm.add(feeder())
passes(tm)
print 'left', repr(b.recv(100))
