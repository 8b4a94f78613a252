# Exceptions thrown into a parent from a child waiting on I/O: a timeout,
# a peer's close seen as EOF and turned into an exception, and a send to a
# closed peer (EPIPE), through two levels of children.
from h import *
import socket
class ConnectionClosed(Exception):
    pass
a, b = socket.socketpair()
def read_exactly(sock, n, t):
    data = ''
    while len(data) < n:
        chunk = yield recv(sock, n - len(data), timeout=t)
        if not chunk:
            raise ConnectionClosed('after %d bytes' % len(data))
        data += chunk
    raise StopIteration(data)
def frame(sock):
    header = yield read_exactly(sock, 2, 0.1)
    body = yield read_exactly(sock, int(header), 0.1)
    raise StopIteration(body)
def reader():
    for i in range(4):
        try:
            body = yield frame(b)
            print 'reader frame', repr(body)
        except Timeout:
            print 'reader timeout', i
        except ConnectionClosed, e:
            print 'reader closed', e
            break
    try:
        yield send(b, 'x' * 10)
        yield sleep(0.05)
        yield send(b, 'y' * 10)
        print 'reader sent?'
    except socket.error, e:
        print 'reader send error', e.args[0]
def writer():
    a.send('05hel')
    yield sleep(0.05)
    a.send('lo')
    yield sleep(0.15)
    a.send('03ab')
    yield sleep(0.05)
    a.close()
    print 'writer closed'
tm = TaskManager()
tm.add(reader())
tm.add(writer())
passes(tm)
