from h import *
import socket
from multitask import FDAction
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(5); l.setblocking(0)
def t1():
    c, addr = yield accept(l)
    print 't1 accepted'
def t2():
    try:
        yield readable(l, timeout=0.3)
        print 't2 readable'
    except Timeout:
        print 't2 timeout'
def t3():
    try:
        v = yield FDAction(l, lambda: 'l-ok', read=True, kwargs={'timeout': 0.3})
        print 't3 action', v
    except Timeout:
        print 't3 timeout'
keep = []
def conn():
    yield
    yield
    s = socket.create_connection(l.getsockname()); keep.append(s)
    print 'connected'
tm = TaskManager(); tm.add(t1()); tm.add(t2()); tm.add(t3()); tm.add(conn())
passes(tm)
