from h import *
import socket
a, b = socket.socketpair()
a.setblocking(0); b.setblocking(0)
while True:
    try:
        b.send('z' * 4096)
    except socket.error:
        break
def t1():
    n = yield send(b, 'q' * 1000000)
    print 't1 sent part', n < 1000000
def t2():
    try:
        yield writable(b, timeout=0.3)
        print 't2 writable'
    except Timeout:
        print 't2 timeout'
def drainer():
    yield
    yield
    n = 0
    while True:
        try:
            n += len(a.recv(65536))
        except socket.error:
            break
    print 'drained'
tm = TaskManager(); tm.add(t1()); tm.add(t2()); tm.add(drainer())
passes(tm)
