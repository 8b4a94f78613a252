from h import *
import socket
a, b = socket.socketpair()
a.send('x')
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
    b.close()
    print 't2 closed b'
def ticker():
    for i in range(4):
        print 'tick', i
        yield
tm = TaskManager(); tm.add(t1()); tm.add(t2()); tm.add(ticker())
passes(tm)
