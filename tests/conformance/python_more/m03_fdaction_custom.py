# FDAction with custom functions: one returning a tuple, one raising, one
# with side effects (printing when the manager calls it), one timing out.
from h import *
import socket
a, b = socket.socketpair()
c, d = socket.socketpair()
calls = []
def peek():
    data = b.recv(100, socket.MSG_PEEK)
    print 'peek called', repr(data)
    return (len(data), data.upper())
def boom():
    print 'boom called'
    raise RuntimeError('boom')
def take():
    data = b.recv(3)
    print 'take called', repr(data)
    return data
def t1():
    r = yield multitask.FDAction(b, peek, read=True)
    print 't1 got', r
    try:
        yield multitask.FDAction(b, boom, read=True)
        print 't1 boom?'
    except RuntimeError, e:
        print 't1 caught', e
    r = yield multitask.FDAction(b, take, read=True)
    print 't1 take', repr(r)
    r = yield multitask.FDAction(b, take, read=True)
    print 't1 take', repr(r)
def t2():
    try:
        yield multitask.FDAction(d, take, read=True, kwargs={'timeout': 0.1})
        print 't2 not reached'
    except Timeout:
        print 't2 timeout'
    r = yield multitask.FDAction(c, lambda: 'w-ok', write=True)
    print 't2 writable action', r
def t(n):
    for i in range(n):
        print 'tick', i
        yield
a.send('abcdef')
tm = TaskManager()
tm.add(t1())
tm.add(t2())
tm.add(t(5))
passes(tm)
