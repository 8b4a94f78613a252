from h import *
import socket
a, b = socket.socketpair()
def closer():
    b.close()
    print 'closed b'
    yield
def sender():
    yield
    try:
        n = yield send(a, 'x')
        print 'sent?', n
    except socket.error, e:
        print 'send error errno', e.args[0]
    data = yield recv(a, 10)
    print 'recv after peer close', repr(data)
tm = TaskManager()
tm.add(closer())
tm.add(sender())
passes(tm)
