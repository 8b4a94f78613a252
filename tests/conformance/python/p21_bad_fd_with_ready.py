from h import *
import socket, os
a, b = socket.socketpair()
a.send('x')
r, w = os.pipe()
os.close(r); os.close(w)
BAD = r
def good():
    data = yield recv(b, 10)
    print 'good got', repr(data)
def badwait():
    try:
        yield readable(BAD)
        print 'bad readable?'
    except Exception, e:
        print 'bad error errno', e.args[0]
def t(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(good())
tm.add(badwait())
tm.add(t(4))
passes(tm)
