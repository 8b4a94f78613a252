from h import *
import socket, os
a, b = socket.socketpair()
u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u1.bind(('127.0.0.1', 0))
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u2.bind(('127.0.0.1', 0))
r1, w1 = os.pipe()
def ticker(n):
    for i in range(n):
        print 'tick', i
        yield
def w():
    for m in ['one', 'two']:
        n = yield write(a.fileno(), m)
        print 'w wrote', n
        yield
def r():
    for i in range(2):
        data = yield read(b.fileno(), 100)
        print 'r read', repr(data)
def tx():
    for m in ['d1', 'd2']:
        n = yield multitask.sendto(u1, m, u2.getsockname())
        print 'tx sent', n
        yield
def rx():
    for i in range(2):
        data, addr = yield multitask.recvfrom(u2, 100)
        print 'rx got', repr(data)
def pw():
    for m in ['p1', 'p2']:
        n = yield write(w1, m)
        print 'pw wrote', n
        yield
def pr():
    for i in range(2):
        data = yield read(r1, 100)
        print 'pr read', repr(data)
def lw():
    for m in ['l1\n', 'l2\n']:
        n = yield send(a, m)
        print 'lw sent', n
        yield
def lr():
    f = b.makefile('r', 0)
    for i in range(2):
        line = yield readline(f)
        print 'lr line', repr(line)
for pair in [(w, r), (tx, rx), (pw, pr), (lw, lr)]:
    tm = TaskManager()
    tm.add(pair[1]())
    tm.add(pair[0]())
    tm.add(ticker(6))
    passes(tm)
    print '---'
