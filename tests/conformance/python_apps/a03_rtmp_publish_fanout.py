# rtmplite's streams: a publisher's connection task reads messages and hands
# each to every subscriber of its stream through that subscriber's bounded
# write queue (a put with a timeout: a slow subscriber loses messages); each
# subscriber has a writer task sending on its socketpair (the slow one sleeps
# before each send); a subscriber leaves midway (its writer gets None and
# closes its socket), the stream drops it.
from h import *
import socket
class Stream(object):
    def __init__(self, name):
        self.name, self.subscribers = name, []
class Subscriber(object):
    def __init__(self, name, maxsize, slow):
        self.name, self.slow = name, slow
        self.sock, self.peer = socket.socketpair()
        self.queue = Queue(maxsize=maxsize)
    def writer(self):
        sent = 0
        while True:
            data = yield self.queue.get()
            if data is None:
                break
            if self.slow:
                yield sleep(0.2)
            yield send(self.sock, data + ';')
            sent += 1
        print self.name, 'writer done after', sent
        self.sock.close()
def publisher(stream, sock):
    buf = ''
    while True:
        data = yield recv(sock, 64)
        if not data:
            break
        buf += data
        while ';' in buf:
            msg, buf = buf.split(';', 1)
            if msg.startswith('leave '):
                name = msg.split()[1]
                for s in stream.subscribers:
                    if s.name == name:
                        stream.subscribers.remove(s)
                        yield s.queue.put(None)
                        print 'removed', name
                continue
            for s in stream.subscribers:
                try:
                    yield s.queue.put(msg, timeout=0.05)
                    print 'queued', msg, 'for', s.name, len(s.queue)
                except Timeout:
                    print 'drop', msg, 'for', s.name
    print 'publisher eof'
    for s in stream.subscribers:
        yield s.queue.put(None)
        print 'ended', s.name
def viewer(s):
    got = 0
    while True:
        data = yield recv(s.peer, 100)
        if not data:
            break
        got += data.count(';')
        print s.name, 'recv', repr(data)
    print s.name, 'eof, total', got
def source(sock):
    yield send(sock, 'm1;m2;m3;')
    yield sleep(0.1)
    yield send(sock, 'leave fast;m4;')
    yield sleep(0.25)
    yield send(sock, 'm5;')
    sock.shutdown(socket.SHUT_WR)
    print 'source done'
tm = TaskManager()
stream = Stream('live')
src, pub = socket.socketpair()
for name, maxsize, slow in [('fast', 2, False), ('slow', 1, True)]:
    s = Subscriber(name, maxsize, slow)
    stream.subscribers.append(s)
    tm.add(s.writer())
    tm.add(viewer(s))
tm.add(publisher(stream, pub))
tm.add(source(src))
passes(tm, 300)
