from h import *
import socket, sys
side, order = sys.argv[1], sys.argv[2]   # side: which end is duplicated ('w' writer's, 'r' reader's); order: e.g. '01' close dups 0 then 1, keep 2
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(5)
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
dup = lambda x: socket.fromfd(x.fileno(), socket.AF_INET, socket.SOCK_STREAM)
base = s if side == 'w' else c
other = c if side == 'w' else s
ds = [base, dup(base), dup(base)]
for x in ds + [other]: x.setblocking(0)
keep = [i for i in range(3) if str(i) not in order][0]
def reader(b):
    for i in range(3):
        data = yield recv(b, 100)
        print 'reader got', repr(data)
def setup():
    for x in ds:
        yield writable(x)
    yield writable(other)
    for ch in order:
        ds[int(ch)].close()
def writer(a, delay):
    for i in range(delay):
        yield
    for m in ['one', 'two', 'three']:
        n = yield send(a, m)
        print 'writer sent', n
        yield
def ticker(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
if side == 'w':
    tm.add(reader(other)); tm.add(setup()); tm.add(writer(ds[keep], 6))
else:
    tm.add(reader(ds[keep])); tm.add(setup()); tm.add(writer(other, 6))
tm.add(ticker(14))
passes(tm)
