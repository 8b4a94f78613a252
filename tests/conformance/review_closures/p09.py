from h import *
import socket
from multitask import FDAction
a, b = socket.socketpair()
a.setblocking(0); b.setblocking(0)
a.send('x')
tm1 = TaskManager(); tm2 = TaskManager()
def t1():
    yield readable(b)
    print 't1 registered'
    v = yield FDAction(b, b.recv, (100,), read=True)
    print 't1 action', repr(v)
def t2():
    try:
        yield readable(b, timeout=0.3)
        print 't2 readable'
    except Timeout:
        print 't2 timeout'
def merger():
    yield
    yield
    tm1.merge(tm2)
    print 'merged'
tm2.add(t1()); tm2.add(t2())
tm2.run_next(); print '|'
tm2.run_next(); print '|'
tm1.add(ticker('tick', 3)) if False else None
tm1.merge(tm2); print 'merged'
passes(tm1)
