# A pipe holding a line and a partial last line when its write end closes:
# readline gives the line, the tail, then ''; a second pipe whose read end
# is closed: writable at once, and the write fails with EPIPE.
from h import *
import os, signal
r, w = os.pipe()
f = os.fdopen(r, 'r', 0)
r2, w2 = os.pipe()
def liner():
    for i in range(3):
        line = yield readline(f)
        print 'liner got', repr(line)
    f.close()
def broken():
    yield writable(w2)
    print 'broken writable'
    try:
        n = yield write(w2, 'data')
        print 'broken wrote?', n
    except OSError, e:
        print 'broken error', e.args[0]
    os.close(w2)
def t(n):
    for i in range(n):
        print 'tick', i
        yield
os.write(w, 'x\ntail')
os.close(w)
os.close(r2)
tm = TaskManager()
tm.add(liner())
tm.add(broken())
tm.add(t(4))
passes(tm)
