from h import *
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(('127.0.0.1', 0))
cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
cli.bind(('127.0.0.1', 0))
def server():
    seen = 0
    while True:
        try:
            data, addr = yield multitask.recvfrom(srv, 100, timeout=0.3)
        except Timeout:
            print 'server idle, stopping'
            break
        seen += 1
        print 'server got', repr(data), 'seen', seen
        if seen % 3 == 0 or data.startswith('ping'):
            yield multitask.sendto(srv, 'ack ' + data, addr)
            print 'server acked', repr(data)
        else:
            print 'server drops', repr(data)
def request(msg):
    for attempt in range(4):
        yield multitask.sendto(cli, msg, srv.getsockname())
        print 'client sent', repr(msg), 'attempt', attempt
        try:
            data, addr = yield multitask.recvfrom(cli, 100, timeout=0.04)
            raise StopIteration(data)
        except Timeout:
            print 'client timeout', attempt
    raise RuntimeError('no answer to ' + msg)
def client():
    for msg in ['ping', 'req1', 'req2']:
        try:
            r = yield request(msg)
            print 'client answer', repr(r)
        except RuntimeError, e:
            print 'client failed', e
tm = TaskManager()
tm.add(server())
tm.add(client())
passes(tm)
