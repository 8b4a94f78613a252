from h import *
import socket
from multitask import FDAction
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
        v = yield FDAction(b, lambda: 'w-ok', write=True, kwargs={'timeout': 0.3})
        print 't2 action', v
    except Timeout:
        print 't2 timeout'
def drainer():
    yield
    yield
    while True:
        try:
            a.recv(65536)
        except socket.error:
            break
    print 'drained'
tm = TaskManager(); tm.add(t1()); tm.add(t2()); tm.add(drainer())
passes(tm)
