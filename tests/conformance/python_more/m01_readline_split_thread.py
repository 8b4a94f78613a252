# readline on a socket whose line arrives in two pieces, the second from a
# helper thread 150 ms later; a ticker sleeps 50 ms a step meanwhile.
from h import *
import socket, threading, time
a, b = socket.socketpair()
fb = b.makefile('r', 0)
def later():
    time.sleep(0.15)
    a.send('lo\n')
def reader():
    line = yield readline(fb)
    print 'reader got', repr(line)
    line = yield readline(fb)
    print 'reader got', repr(line)
def ticker():
    for i in range(5):
        print 'tick', i
        yield sleep(0.05)
a.send('hel')
th = threading.Thread(target=later)
th.start()
tm = TaskManager()
tm.add(reader())
tm.add(ticker())
def closer():
    yield sleep(0.5)
    a.send('bye\n')
    print 'closer sent'
tm.add(closer())
passes(tm)
th.join()
