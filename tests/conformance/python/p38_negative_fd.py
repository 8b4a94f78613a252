from h import *
import os
r, w = os.pipe()
os.close(r); os.close(w)
def t():
    try:
        yield readable(-1)
        print 'readable?'
    except Exception, e:
        print 'error', type(e).__name__
    try:
        yield readable(r, timeout=1)
        print 'readable?'
    except Exception, e:
        print 'error errno', e.args[0]
    print 'timeouts', tm.has_timeouts()
def tk(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(t())
tm.add(tk(4))
passes(tm)
