# One task closes a socket while others wait on it (recv with a timeout, a
# writable wait); a bystander keeps ticking.
from h import *
import socket
a, b = socket.socketpair()
def reader():
    try:
        data = yield recv(b, 100, timeout=1.0)
        print 'reader got?', repr(data)
    except socket.error, e:
        print 'reader error', e.args[0]
    except Exception, e:
        print 'reader other', type(e).__name__, e.args[0]
    print 'reader timeouts pending', tm.has_timeouts()
def closer():
    yield
    yield
    print 'closer closes b'
    b.close()
    yield
    print 'closer after'
def ticker():
    for i in range(6):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(reader())
tm.add(closer())
tm.add(ticker())
passes(tm)
print 'end io', tm.has_io_waits(), 'timeouts', tm.has_timeouts()
