# A chat server: clients connected through socketpairs; a reader task per
# client puts lines in the hub's inbox, a writer task per client sends what
# its own bounded queue (maxsize 2) holds; one client leaves mid-broadcast.
from h import *
import socket
inbox = Queue()
outq = {}
def client_reader(name, sock):
    buf = ''
    while True:
        data = yield recv(sock, 100)
        if not data:
            print 'server: %s left' % name
            yield inbox.put((name, None))
            break
        buf += data
        while '\n' in buf:
            line, buf = buf.split('\n', 1)
            yield inbox.put((name, line))
def client_writer(name, sock, q):
    while True:
        msg = yield q.get()
        if msg is None:
            break
        try:
            yield send(sock, msg + '\n')
        except socket.error, e:
            print 'server: send to %s failed %d' % (name, e.args[0])
            break
    print 'server: writer %s done' % name
def hub():
    while True:
        try:
            name, line = yield inbox.get(timeout=0.3)
        except Timeout:
            print 'hub idle'
            break
        if line is None:
            q = outq.pop(name)
            yield q.put(None)
            continue
        print 'hub: %s says %s' % (name, line)
        for other in sorted(outq):
            if other != name:
                try:
                    yield outq[other].put('%s: %s' % (name, line), timeout=0.05)
                except Timeout:
                    print 'hub: %s is slow, drop' % other
    for name in sorted(outq):
        yield outq[name].put(None)
def user(name, sock, start, says, delay, leave_after):
    if start:
        yield sleep(start)
    for s in says:
        sock.send(s + '\n')
        yield sleep(delay)
    got = 0
    while got < leave_after:
        try:
            data = yield recv(sock, 1000, timeout=0.2)
        except Timeout:
            print name, 'timeout'
            break
        if not data:
            break
        got += data.count('\n')
        print name, 'heard', repr(data)
    sock.close()
    print name, 'closed'
tm = TaskManager()
users = [('ann', 0, ['hi', 'how are you'], 0.1, 99),
         ('bob', 0.05, ['yo'], 0.2, 1),
         ('cat', 0, [], 0.05, 99)]
for name, start, says, delay, leave in users:
    s_end, c_end = socket.socketpair()
    q = Queue(maxsize=2)
    outq[name] = q
    tm.add(client_reader(name, s_end))
    tm.add(client_writer(name, s_end, q))
    tm.add(user(name, c_end, start, says, delay, leave))
tm.add(hub())
passes(tm)
