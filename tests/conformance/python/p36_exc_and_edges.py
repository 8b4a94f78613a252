from h import *
import socket
a, b = socket.socketpair()
def t():
    n = yield send(b, '')
    print 'sent empty', n
    a.send('abc')
    data = yield recv(b, 0)
    print 'recv 0', repr(data)
    data = yield recv(b, 2)
    print 'recv 2', repr(data)
    try:
        yield multitask.FDReady(b, exc=True, timeout=0.02)
        print 'exc ready?'
    except Timeout:
        print 'exc timeout'
    a.close()
    try:
        yield multitask.FDReady(b, exc=True, timeout=0.02)
        print 'exc ready after close?'
    except Timeout:
        print 'exc timeout after close'
    yield readable(b, timeout=0.02)
    print 'readable after close'
    data = yield recv(b, 10)
    print 'recv after close', repr(data)
    data = yield recv(b, 10)
    print 'recv after close', repr(data)
tm = TaskManager()
tm.add(t())
tm.run()
