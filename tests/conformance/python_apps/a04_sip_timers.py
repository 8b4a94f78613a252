# p2p-sip's transaction timers: a Timer starts a task that sleeps and then
# calls back (a plain call) unless stopped; stop() closes the generator
# (gen.close()), as rfc3261.py does. Sends are direct sock.sendto calls made
# from the callbacks; the stack's receive loop dispatches each datagram with
# a plain call. Timer A retransmits with doubling, Timer B gives up, a
# provisional response stops A, a final one terminates the transaction.
from h import *
import socket
tm = TaskManager()
class Timer(object):
    def __init__(self, app, name):
        self.app, self.name, self.delay, self.running, self.gen = app, name, 0, False, None
    def start(self, delay):
        if self.running:
            self.stop()
        self.delay = delay
        self.running = True
        self.gen = self.run()
        tm.add(self.gen)
    def stop(self):
        if self.running:
            self.running = False
        if self.gen:
            try:
                self.gen.close()
            except:
                pass
            self.gen = None
    def run(self):
        try:
            yield sleep(self.delay)
            if self.running:
                self.running = False
                self.app.timedout(self)
        except GeneratorExit:
            print 'timer', self.app.tid, self.name, 'closed'
            raise
class Stack(object):
    def __init__(self, sock):
        self.sock, self.transactions = sock, {}
    def receiver(self):
        while True:
            try:
                data, addr = yield multitask.recvfrom(self.sock, 200, timeout=0.6)
            except Timeout:
                print 'stack idle, left', sorted(self.transactions)
                break
            tid, rest = data.split(' ', 1)
            t = self.transactions.get(tid)
            if t is None:
                print 'stray', repr(data)
            else:
                t.received(rest)
class ClientTransaction(object):
    def __init__(self, stack, tid, dest):
        self.stack, self.tid, self.dest = stack, tid, dest
        self.A, self.B = Timer(self, 'A'), Timer(self, 'B')
        self.sent = 0
        stack.transactions[tid] = self
    def start(self):
        self.send()
        self.A.start(0.05)
        self.B.start(0.5)
    def send(self):
        self.sent += 1
        self.stack.sock.sendto('%s INVITE %d' % (self.tid, self.sent), self.dest)
        print self.tid, 'sent', self.sent
    def timedout(self, timer):
        if timer is self.A:
            print self.tid, 'timer A', timer.delay
            self.send()
            self.A.start(timer.delay * 2)
        else:
            print self.tid, 'timer B'
            self.terminate()
    def received(self, resp):
        print self.tid, 'received', resp
        if resp.startswith('1'):
            self.A.stop()
        else:
            self.terminate()
    def terminate(self):
        self.A.stop()
        self.B.stop()
        del self.stack.transactions[self.tid]
        print self.tid, 'terminated'
ua = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ua.bind(('127.0.0.1', 0))
peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
peer.bind(('127.0.0.1', 0))
def uas():
    count = {}
    while True:
        try:
            data, addr = yield multitask.recvfrom(peer, 200, timeout=0.3)
        except Timeout:
            break
        tid = data.split()[0]
        count[tid] = count.get(tid, 0) + 1
        print 'uas got', repr(data)
        if tid == 't1' and count[tid] == 3:
            peer.sendto('t1 200 OK', addr)
        elif tid == 't2' and count[tid] == 1:
            peer.sendto('t2 180 Ringing', addr)
            tm.add(answer_later('t2', addr, 0.2))
    print 'uas counts', sorted(count.items())
def answer_later(tid, addr, delay):
    yield sleep(delay)
    peer.sendto(tid + ' 200 OK', addr)
    print 'uas answered', tid
def starter(stack):
    for tid in ['t1', 't2', 't3']:
        ClientTransaction(stack, tid, peer.getsockname()).start()
    yield
    print 'started'
stack = Stack(ua)
tm.add(stack.receiver())
tm.add(uas())
tm.add(starter(stack))
passes(tm, 300)
