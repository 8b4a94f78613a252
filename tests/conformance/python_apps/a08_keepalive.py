# Keepalives, as rtmplite's ping and an idle limit: the server's connection
# task reads with a recv timeout; a pinger task per connection sleeps and
# puts a PING into the connection's write queue while the connection lives;
# the client answers two PINGs with PONGs, then goes silent: the server's
# recv times out twice (a warning, then it closes: None to the writer); the
# pinger sees the connection is gone and stops. (The writer shuts the socket
# down before closing it: Python 2's close() leaves the fd open while the
# manager's last FDAction still holds the socket's bound method.)
from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
tm = TaskManager()
class Conn(object):
    def __init__(self, sock):
        self.sock, self.alive, self.queue, self.pings = sock, True, Queue(), 0
    def reader(self):
        warned = False
        while True:
            try:
                data = yield recv(self.sock, 100, timeout=0.2)
            except Timeout:
                if not warned:
                    warned = True
                    print 'server idle warning'
                    continue
                print 'server closes idle connection'
                break
            if not data:
                print 'server eof'
                break
            warned = False
            print 'server got', repr(data)
        self.alive = False
        yield self.queue.put(None)
    def writer(self):
        while True:
            data = yield self.queue.get()
            if data is None:
                break
            n = yield send(self.sock, data)
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        print 'server writer closed'
    def pinger(self):
        while True:
            yield sleep(0.15)
            if not self.alive:
                print 'pinger stops after', self.pings
                break
            self.pings += 1
            yield self.queue.put('PING %d;' % self.pings)
def listener():
    conn, _ = yield accept(ls)
    c = Conn(conn)
    tm.add(c.reader())
    tm.add(c.writer())
    tm.add(c.pinger())
    print 'listener accepted'
def client():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(ls.getsockname())
    answered = 0
    while True:
        data = yield recv(s, 100)
        if not data:
            print 'client eof'
            break
        print 'client got', repr(data)
        if answered < 2:
            answered += 1
            yield send(s, 'PONG %d' % answered)
    s.close()
tm.add(listener())
tm.add(client())
passes(tm, 300)
