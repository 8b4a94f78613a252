# yield writable(sock), then fill its buffer with direct sends; the next
# writable() must wait (here: time out, as nothing drains it).
from h import *
import socket, errno
a, b = socket.socketpair()
a.setblocking(0)
def fill():
    n = 0
    while True:
        try:
            n += a.send('x' * 4096)
        except socket.error, e:
            if e.args[0] == errno.EAGAIN:
                return n
            raise
def sender():
    yield writable(a)
    print 'sender writable'
    print 'sender filled', fill() > 0
    try:
        yield writable(a, timeout=0.05)
        print 'sender writable again?'
        a.send('more')
        print 'sender sent more?'
    except Timeout:
        print 'sender timeout'
    except socket.error, e:
        print 'sender error', e.args[0] == errno.EAGAIN
def t(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(sender())
tm.add(t(3))
passes(tm)
