# A pipe filled by direct non-blocking writes; a yielded write with a
# timeout times out; then a reader drains it and a second write succeeds.
from h import *
import os, fcntl
r, w = os.pipe()
fl = fcntl.fcntl(w, fcntl.F_GETFL)
fcntl.fcntl(w, fcntl.F_SETFL, fl | os.O_NONBLOCK)
total = 0
while True:
    try:
        total += os.write(w, 'z' * 1024)
    except OSError:
        break
fcntl.fcntl(w, fcntl.F_SETFL, fl)
print 'filled', total > 0
def writer():
    try:
        n = yield write(w, 'abc', timeout=0.1)
        print 'writer wrote?', n
    except Timeout:
        print 'writer timeout'
    n = yield write(w, 'abc', timeout=0.3)
    print 'writer wrote', n
def drainer():
    yield sleep(0.15)
    got = 0
    while got < total:
        got += len(os.read(r, 65536))
    print 'drainer drained', got == total
    data = yield read(r, 100)
    print 'drainer read', repr(data)
tm = TaskManager()
tm.add(writer())
tm.add(drainer())
passes(tm)
