from h import *
import socket
a, b = socket.socketpair()
def reader():
    print 'reader waits'
    data = yield recv(b, 100)
    print 'reader got', repr(data)
    try:
        data = yield recv(b, 100, timeout=0.02)
        print 'reader got?', repr(data)
    except Timeout:
        print 'reader timeout'
    data = yield recv(b, 100)
    print 'reader got', repr(data)
    data = yield recv(b, 100)
    print 'reader got', repr(data)
def writer():
    print 'writer sends'
    n = yield send(a, 'hello')
    print 'writer sent', n
    yield sleep(0.05)
    n = yield send(a, 'world')
    print 'writer sent', n
    a.close()
    print 'writer closed'
tm = TaskManager()
tm.add(reader())
tm.add(writer())
tm.run()
