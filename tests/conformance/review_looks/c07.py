from h import *
import socket
a, b = socket.socketpair()
a.send('x')
keep = []
def t1():
    yield readable(b)
    print 't1 registered'
    try:
        yield readable(b)
        print 't1 ready'
    except Exception, e:
        print 't1', type(e).__name__, e.args[0]
def t2():
    yield readable(b)
    print 't2 registered'
    n = b.fileno()
    b.close()
    c, d = socket.socketpair()
    keep.append((c, d))
    print 't2 reused', d.fileno() == n or c.fileno() == n
    c.send('new')
    d.send('new')
    yield readable(d)
    print 't2 new readable'
def ticker():
    for i in range(4):
        print 'tick', i
        yield
tm = TaskManager(); tm.add(t1()); tm.add(t2()); tm.add(ticker())
passes(tm)
