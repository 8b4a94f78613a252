# FDReady with several flags: read+write on a socket that is both (resumed
# once), exc on a TCP connection with urgent (OOB) data, and read+exc.
from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.connect(ls.getsockname())
conn, _ = ls.accept()
a, b = socket.socketpair()
def rw():
    a.send('data')
    yield multitask.FDReady(b, read=True, write=True)
    print 'rw resumed once'
    print 'rw got', repr(b.recv(100))
    yield multitask.FDReady(b, read=True, write=True)
    print 'rw resumed (writable)'
    try:
        yield multitask.FDReady(b, read=True, timeout=0.02)
        print 'rw readable?'
    except Timeout:
        print 'rw read timeout'
def urgent():
    try:
        yield multitask.FDReady(conn, exc=True, timeout=0.03)
        print 'urgent ready?'
    except Timeout:
        print 'urgent timeout'
    yield multitask.FDReady(conn, exc=True, timeout=0.5)
    print 'urgent ready'
    print 'urgent oob', repr(conn.recv(1, socket.MSG_OOB))
    yield multitask.FDReady(conn, read=True, exc=True, timeout=0.5)
    print 'urgent read+exc ready'
    print 'urgent data', repr(conn.recv(100))
def peer():
    yield sleep(0.05)
    c.send('!', socket.MSG_OOB)
    print 'peer sent oob'
    yield sleep(0.05)
    c.send('normal')
    print 'peer sent normal'
def t(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(rw())
tm.add(urgent())
tm.add(peer())
tm.add(t(4))
passes(tm)
