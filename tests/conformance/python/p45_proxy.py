from h import *
import socket
client_end, proxy_front = socket.socketpair()
proxy_back, server_end = socket.socketpair()
def relay(name, src, dst):
    total = 0
    while True:
        data = yield recv(src, 4)
        if not data:
            print name, 'eof after', total
            dst.shutdown(socket.SHUT_WR)
            break
        total += len(data)
        print name, 'relays', repr(data)
        yield send(dst, data)
def server():
    buf = ''
    while True:
        data = yield recv(server_end, 100)
        if not data:
            break
        buf += data
        print 'server got', repr(data)
        yield send(server_end, data[::-1])
    print 'server eof, total', repr(buf)
    server_end.close()
def client():
    for m in ['abcdef', 'gh']:
        yield send(client_end, m)
        print 'client sent', repr(m)
        got = ''
        while len(got) < len(m):
            got += yield recv(client_end, 100)
        print 'client got', repr(got)
    client_end.shutdown(socket.SHUT_WR)
    data = yield recv(client_end, 100)
    print 'client final', repr(data)
tm = TaskManager()
tm.add(relay('up', proxy_front, proxy_back))
tm.add(relay('down', proxy_back, proxy_front))
tm.add(server())
tm.add(client())
passes(tm)
