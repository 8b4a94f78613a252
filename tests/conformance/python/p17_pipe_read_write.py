from h import *
import os
rfd, wfd = os.pipe()
def w():
    n = yield write(wfd, 'line one\nline two\n')
    print 'wrote', n
    yield sleep(0.03)
    n = yield write(wfd, 'tail')
    print 'wrote', n
    os.close(wfd)
    print 'closed w'
def r():
    data = yield read(rfd, 9)
    print 'read', repr(data)
    data = yield read(rfd, 100)
    print 'read', repr(data)
    try:
        data = yield read(rfd, 100, timeout=0.01)
        print 'read?', repr(data)
    except Timeout:
        print 'read timeout'
    data = yield read(rfd, 100)
    print 'read', repr(data)
    data = yield read(rfd, 100)
    print 'read eof', repr(data)
tm = TaskManager()
tm.add(r())
tm.add(w())
tm.run()
