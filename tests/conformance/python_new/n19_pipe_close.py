# Pipes: the write end closed while a reader waits (EOF), and a pipe's read
# end closed by another task while a task waits to read it (EBADF).
from h import *
import os
r1, w1 = os.pipe()
r2, w2 = os.pipe()
def reader1():
    data = yield read(r1, 100)
    print 'reader1 got', repr(data)
    data = yield read(r1, 100)
    print 'reader1 eof', repr(data)
def reader2():
    try:
        data = yield read(r2, 100, timeout=0.5)
        print 'reader2 got?', repr(data)
    except Timeout:
        print 'reader2 timeout'
    except Exception, e:
        print 'reader2 error', e.args[0]
def closer():
    n = yield write(w1, 'abc')
    print 'closer wrote', n
    yield
    os.close(w1)
    print 'closer closed w1'
    yield
    os.close(r2)
    print 'closer closed r2'
    yield
    print 'closer done'
def t(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(reader1())
tm.add(reader2())
tm.add(closer())
tm.add(t(7))
passes(tm)
print 'timeouts', tm.has_timeouts()
