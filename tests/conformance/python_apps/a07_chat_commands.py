# A line chat server over TCP: per client a LineReader (a generator method
# returning lines with StopIteration, over recv of 7 bytes), a handler that
# parses NICK / SAY / WHO / QUIT, and a writer task fed by the client's
# Queue; a broadcast puts into every other client's queue; QUIT and EOF both
# end the writer with None. Clients are scripted tasks that connect, send,
# and read until their last expected line, staggered by sleeps.
from h import *
import socket
class ConnectionClosed(Exception): pass
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
tm = TaskManager()
clients = []
class LineReader(object):
    def __init__(self, sock):
        self.sock, self.buf = sock, ''
    def readline(self):
        while '\n' not in self.buf:
            data = yield recv(self.sock, 7)
            if not data:
                raise ConnectionClosed()
            self.buf += data
        line, self.buf = self.buf.split('\n', 1)
        raise StopIteration(line)
class ChatClient(object):
    def __init__(self, sock, n):
        self.sock, self.n, self.nick = sock, n, 'guest%d' % n
        self.queue = Queue()
        self.reader = LineReader(sock)
    def writer(self):
        while True:
            line = yield self.queue.get()
            if line is None:
                break
            yield send(self.sock, line + '\n')
        self.sock.close()
        print self.nick, 'writer closed'
    def broadcast(self, line):
        for c in clients:
            if c is not self:
                yield c.queue.put(line)
    def handler(self):
        try:
            while True:
                line = yield self.reader.readline()
                cmd, _, arg = line.partition(' ')
                print 'server', self.nick, cmd, repr(arg)
                if cmd == 'NICK':
                    yield self.broadcast('* %s is now %s' % (self.nick, arg))
                    self.nick = arg
                    yield self.queue.put('OK')
                elif cmd == 'SAY':
                    yield self.broadcast('<%s> %s' % (self.nick, arg))
                elif cmd == 'WHO':
                    yield self.queue.put('WHO ' + ' '.join(c.nick for c in clients))
                elif cmd == 'QUIT':
                    break
                else:
                    yield self.queue.put('ERR ' + cmd)
        except ConnectionClosed:
            print 'server', self.nick, 'connection closed'
        clients.remove(self)
        yield self.broadcast('* %s left' % self.nick)
        yield self.queue.put(None)
def listener():
    n = 0
    while True:
        try:
            conn, _ = yield accept(ls, timeout=0.3)
        except Timeout:
            print 'listener idle'
            break
        n += 1
        c = ChatClient(conn, n)
        clients.append(c)
        tm.add(c.handler())
        tm.add(c.writer())
def user(name, delay, script, until):
    if delay:
        yield sleep(delay)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(ls.getsockname())
    r = LineReader(s)
    for line in script:
        if line.startswith('sleep '):
            yield sleep(float(line.split()[1]))
        elif line == 'EOF':
            s.shutdown(socket.SHUT_WR)
        else:
            yield send(s, line + '\n')
    while True:
        try:
            line = yield r.readline()
        except ConnectionClosed:
            print name, 'eof'
            break
        print name, 'hears', repr(line)
        if line == until:
            break
    s.close()
tm.add(listener())
tm.add(user('ann', 0.0, ['NICK ann', 'sleep 0.1', 'SAY hi all', 'sleep 0.1', 'WHO', 'QUIT'], None))
tm.add(user('bob', 0.05, ['NICK bob', 'sleep 0.25', 'SAY bye', 'EOF'], None))
tm.add(user('cat', 0.15, ['FOO', 'NICK cat'], '* bob left'))
passes(tm, 400)
