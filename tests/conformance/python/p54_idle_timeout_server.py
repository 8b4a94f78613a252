from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
addr = ls.getsockname()
tm = TaskManager()
def listener():
    for i in range(2):
        conn, peer = yield accept(ls)
        tm.add(session(conn, i))
def session(conn, i):
    f = conn.makefile('r', 0)
    yield send(conn, 'welcome %d\n' % i)
    while True:
        try:
            line = yield readline(f, timeout=0.08)
        except Timeout:
            print 'session', i, 'idle'
            yield send(conn, 'bye idle\n')
            break
        if not line:
            print 'session', i, 'eof'
            break
        print 'session', i, 'line', repr(line)
        yield send(conn, 'ok ' + line)
    f.close()
    conn.close()
    print 'session', i, 'closed'
def client(i, lines, linger):
    yield sleep(0.01 + 0.02 * i)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(addr)
    f = c.makefile('r', 0)
    w = yield readline(f)
    print 'client', i, 'heard', repr(w)
    for line in lines:
        yield send(c, line)
        r = yield readline(f)
        print 'client', i, 'heard', repr(r)
    if linger:
        r = yield readline(f)
        print 'client', i, 'heard', repr(r)
        r = yield readline(f)
        print 'client', i, 'heard', repr(r)
    f.close()
    c.close()
    print 'client', i, 'done'
tm.add(listener())
tm.add(client(0, ['one\n', 'two\n'], True))
tm.add(client(1, ['three\n'], False))
passes(tm)
