# A relay pair between two socketpairs: yielded recv, then the (blocking,
# direct) sock.sendall of what it got, in both directions.
from h import *
import socket
client_end, front = socket.socketpair()
back, server_end = socket.socketpair()
def relay(name, src, dst):
    while True:
        data = yield recv(src, 5)
        if not data:
            print name, 'eof'
            dst.shutdown(socket.SHUT_WR)
            break
        dst.sendall(data)
        print name, 'relayed', repr(data)
def server():
    while True:
        data = yield recv(server_end, 100)
        if not data:
            break
        print 'server got', repr(data)
        server_end.sendall(data.upper())
    print 'server eof'
    server_end.close()
def client():
    client_end.sendall('hello relay')
    print 'client sent'
    got = ''
    while len(got) < 11:
        got += yield recv(client_end, 100)
        print 'client has', repr(got)
    client_end.shutdown(socket.SHUT_WR)
    data = yield recv(client_end, 100)
    print 'client final', repr(data)
def ticker():
    for i in range(12):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(relay('up', front, back))
tm.add(relay('down', back, front))
tm.add(server())
tm.add(client())
tm.add(ticker())
passes(tm)
