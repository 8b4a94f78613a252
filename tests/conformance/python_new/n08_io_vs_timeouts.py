# Data arrives and deadlines pass while a task blocks the process: the I/O
# completions are enqueued before the timeouts of the same run_next.
from h import *
import socket, time
a, b = socket.socketpair()
c, d = socket.socketpair()
q = Queue()
def r1():
    try:
        data = yield recv(b, 100, timeout=0.03)
        print 'r1 got', repr(data)
    except Timeout:
        print 'r1 timeout'
def r2():
    try:
        data = yield recv(d, 100, timeout=0.03)
        print 'r2 got', repr(data)
    except Timeout:
        print 'r2 timeout'
def qg():
    try:
        yield q.get(timeout=0.01)
    except Timeout:
        print 'qg timeout'
def sl():
    yield sleep(0.02)
    print 'sl woke'
def blocker():
    yield
    a.send('data')
    print 'blocker sent, blocks'
    time.sleep(0.08)
    print 'blocker unblocks'
    yield
    print 'blocker again'
tm = TaskManager()
tm.add(sl())
tm.add(qg())
tm.add(r2())
tm.add(r1())
tm.add(blocker())
passes(tm)
