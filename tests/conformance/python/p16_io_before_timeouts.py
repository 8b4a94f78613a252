from h import *
import socket
a, b = socket.socketpair()
a.send('data')
q = Queue()
def qget():
    try:
        yield q.get(timeout=0)
        print 'qget got?'
    except Timeout:
        print 'qget timeout'
def r():
    try:
        data = yield recv(b, 100, timeout=0)
        print 'r got', repr(data)
    except Timeout:
        print 'r timeout'
def r2():
    try:
        data = yield recv(b, 100, timeout=0)
        print 'r2 got', repr(data)
    except Timeout:
        print 'r2 timeout'
tm = TaskManager()
tm.add(qget())
tm.add(r())
passes(tm)
print '---'
tm.add(r2())
passes(tm)
