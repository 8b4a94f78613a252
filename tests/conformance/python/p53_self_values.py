from h import *
import socket
a, b = socket.socketpair()
def t1():
    x = yield 5
    print 't1 got', x
    n = yield send(a, 'data%d' % x)
    print 't1 sent', n
    y = yield (x, n)
    print 't1 got', y
    z = yield [1, 2]
    print 't1 got', z
    data = yield recv(a, 100)
    print 't1 recv', repr(data)
    w = yield data
    print 't1 got', repr(w)
def t2():
    data = yield recv(b, 100)
    print 't2 recv', repr(data)
    v = yield len(data)
    print 't2 got', v
    yield send(b, data.upper())
    print 't2 sent'
    u = yield 'x' * v
    print 't2 got', u
def t3():
    for i in range(6):
        v = yield i
        print 't3', v
tm = TaskManager()
tm.add(t1()); tm.add(t2()); tm.add(t3())
passes(tm)
