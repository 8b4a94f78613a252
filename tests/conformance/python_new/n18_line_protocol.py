# A line protocol over readline() on unbuffered socket files: commands arrive
# a whole line or several lines at a time, across passes; a readline timeout
# ends an idle session.
from h import *
import socket
a, b = socket.socketpair()
fb = b.makefile('r', 0)
fa = a.makefile('r', 0)
def server():
    while True:
        try:
            line = yield readline(fb, timeout=0.1)
        except Timeout:
            print 'server idle'
            yield send(b, 'BYE\n')
            break
        if not line:
            print 'server eof'
            break
        cmd = line.strip()
        print 'server cmd', repr(cmd)
        if cmd == 'QUIT':
            yield send(b, 'OK bye\n')
            break
        yield send(b, 'OK %s\n' % cmd.lower())
    fb.close()
    b.close()
    print 'server closed'
def client():
    a.send('HELO\n')
    line = yield readline(fa)
    print 'client got', repr(line)
    a.send('ONE\nTWO\nTHREE\n')
    for i in range(3):
        line = yield readline(fa)
        print 'client got', repr(line)
    yield sleep(0.03)
    a.send('FOUR\n')
    line = yield readline(fa)
    print 'client got', repr(line)
    line = yield readline(fa)
    print 'client got', repr(line)
    line = yield readline(fa)
    print 'client got', repr(line)
def t(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(server())
tm.add(client())
tm.add(t(5))
passes(tm)
