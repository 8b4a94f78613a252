# readline with a timeout where a part of a line is there at once and the
# rest comes from a helper thread 150 ms later (after the 100 ms timeout).
from h import *
import socket, threading, time
a, b = socket.socketpair()
fb = b.makefile('r', 0)
def later():
    time.sleep(0.15)
    a.send('lo\nnext\n')
def reader():
    for i in range(3):
        try:
            line = yield readline(fb, timeout=0.1)
            print 'reader got', repr(line)
        except Timeout:
            print 'reader timeout', i
a.send('hel')
th = threading.Thread(target=later)
th.start()
tm = TaskManager()
tm.add(reader())
passes(tm)
th.join()
