# An I/O wait's timeout is cancelled when the I/O completes; a later wait of
# the same task must not see the old deadline.
from h import *
import socket
a, b = socket.socketpair()
q = Queue()
def reader():
    data = yield recv(b, 100, timeout=0.05)
    print 'reader got', repr(data)
    print 'timeouts pending', tm.has_timeouts()
    try:
        x = yield q.get(timeout=0.15)
        print 'reader q got', x
    except Timeout:
        print 'reader q timeout'
def writer():
    yield sleep(0.01)
    a.send('early')
    print 'writer sent'
def marker():
    yield sleep(0.1)
    print 'marker at 0.1'
    yield q.put('m')
    print 'marker put'
tm = TaskManager()
tm.add(reader())
tm.add(writer())
tm.add(marker())
tm.run()
