from h import *
import socket
a, b = socket.socketpair()
def read_exact(sock, n, timeout):
    buf = ''
    while len(buf) < n:
        data = yield recv(sock, n - len(buf), timeout=timeout)
        if not data:
            raise EOFError('short read %d' % len(buf))
        buf += data
    raise StopIteration(buf)
def read_message(sock):
    header = yield read_exact(sock, 2, 0.05)
    n = int(header)
    body = yield read_exact(sock, n, 0.05)
    raise StopIteration(body)
def reader():
    for i in range(5):
        try:
            m = yield read_message(b)
            print 'reader message', repr(m)
        except Timeout:
            print 'reader timeout', i
        except EOFError, e:
            print 'reader eof', e
            break
def writer():
    a.send('05hel')
    print 'writer part 1'
    yield sleep(0.02)
    a.send('lo03abc')
    print 'writer part 2'
    yield sleep(0.09)
    a.send('1')
    print 'writer part 3'
    yield sleep(0.07)
    a.send('0')
    a.close()
    print 'writer closed'
tm = TaskManager()
tm.add(reader())
tm.add(writer())
passes(tm)
