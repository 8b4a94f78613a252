# An RTP-like media path over UDP, as in 39peers' voice path: a sender sends
# a datagram every 0.1 s (sequence numbers out of order, one lost, one
# duplicated), a receiver task fills a jitter buffer (a dict by sequence
# number), and a playout task starts 0.05 s after the sender and plays one
# sequence number per 0.1 s, reporting gaps; late and duplicate packets are
# dropped. A BYE ends the receiver, the playout drains what is left.
from h import *
import socket
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.bind(('127.0.0.1', 0))
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(('127.0.0.1', 0))
state = {'next': 0, 'bye': False}
buf = {}
def sender():
    for seq in [0, 1, 3, 2, 5, 5, 6]:
        yield multitask.sendto(tx, 'RTP %d payload%d' % (seq, seq), rx.getsockname())
        yield sleep(0.1)
    yield multitask.sendto(tx, 'BYE', rx.getsockname())
    print 'sender done'
def receiver():
    while True:
        data, addr = yield multitask.recvfrom(rx, 100)
        if data == 'BYE':
            state['bye'] = True
            print 'receiver bye, buffered', sorted(buf)
            break
        seq = int(data.split()[1])
        if seq < state['next']:
            print 'late', seq
        elif seq in buf:
            print 'duplicate', seq
        else:
            buf[seq] = data.split()[2]
            print 'buffered', seq
def playout():
    yield sleep(0.05)
    while not (state['bye'] and not buf):
        seq = state['next']
        if seq in buf:
            print 'play', seq, buf.pop(seq)
        else:
            print 'gap', seq
        state['next'] += 1
        yield sleep(0.1)
    print 'playout done at', state['next']
tm = TaskManager()
tm.add(receiver())
tm.add(playout())
tm.add(sender())
passes(tm, 300)
