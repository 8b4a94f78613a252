# The docstring's other pattern: yield writable(sock); sock.send(data) on a
# socket whose buffer a direct sender filled; a reader drains it.
from h import *
import socket, errno
a, b = socket.socketpair()
a.setblocking(0)
filled = 0
while True:
    try:
        filled += a.send('x' * 4096)
    except socket.error, e:
        if e.args[0] == errno.EAGAIN:
            break
        raise
print 'filled', filled > 0
def sender():
    for i in range(2):
        try:
            yield writable(a, timeout=0.3)
            n = a.send('m%d' % i)
            print 'sender sent', i, n
        except Timeout:
            print 'sender timeout', i
        except socket.error, e:
            print 'sender error', i, e.args[0] == errno.EAGAIN
def drainer():
    yield sleep(0.05)
    total = 0
    while total < filled:
        data = yield recv(b, min(65536, filled - total))
        total += len(data)
    print 'drainer drained', total == filled
    yield sleep(0.05)
    rest = yield recv(b, 100)
    print 'drainer rest', repr(rest)
    try:
        rest = yield recv(b, 100, timeout=0.08)
        print 'drainer rest', repr(rest)
    except Timeout:
        print 'drainer timeout'
tm = TaskManager()
tm.add(sender())
tm.add(drainer())
tm.run()
print 'end'
