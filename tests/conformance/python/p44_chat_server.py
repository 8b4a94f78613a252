from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
addr = ls.getsockname()
tm = TaskManager()
clients = {}
def listener():
    for i in range(2):
        conn, peer = yield accept(ls)
        name = 'u%d' % i
        q = Queue()
        clients[name] = q
        print 'joined', name
        tm.add(reader(conn, name))
        tm.add(writer(conn, name, q))
def broadcast(src, line):
    for name in sorted(clients):
        if name != src:
            yield clients[name].put('%s: %s' % (src, line))
def reader(conn, name):
    f = conn.makefile('r', 0)
    while True:
        line = yield readline(f)
        if not line:
            f.close()
            break
        print 'server read', name, repr(line)
        yield broadcast(name, line)
    print 'left', name
    q = clients.pop(name)
    yield q.put(None)
def writer(conn, name, q):
    while True:
        msg = yield q.get()
        if msg is None:
            break
        n = yield send(conn, msg)
        print 'server wrote', name, n
    conn.close()
    print 'writer done', name
def client(i, delay, says, hears):
    yield sleep(delay)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(addr)
    f = c.makefile('r', 0)
    yield sleep(0.05)
    for s in says:
        yield send(c, s)
        print 'client', i, 'said', repr(s)
        yield sleep(0.03)
    for k in range(hears):
        line = yield readline(f, timeout=0.2)
        print 'client', i, 'heard', repr(line)
    f.close()
    c.close()
    print 'client', i, 'closed'
tm.add(listener())
tm.add(client(0, 0.01, ['hi all\n', 'how are you\n'], 1))
tm.add(client(1, 0.02, ['fine\n'], 2))
passes(tm)
