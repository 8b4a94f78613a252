# A chat hub: a bounded queue per client, the broadcaster drops a message
# for a client whose queue stays full (put timeout); idle clients time out.
from h import *
inbox = Queue()
clients = {}
def hub():
    while True:
        try:
            src, msg = yield inbox.get(timeout=0.2)
        except Timeout:
            print 'hub idle'
            break
        for name in sorted(clients):
            if name == src:
                continue
            try:
                yield clients[name].put('%s: %s' % (src, msg), timeout=0.01)
                print 'hub ->', name, msg
            except Timeout:
                print 'hub drop', name, msg
    for name in sorted(clients):
        yield clients[name].put(None)
def client(name, delay, says):
    q = Queue(maxsize=2)
    clients[name] = q
    for s in says:
        yield inbox.put((name, s))
    heard = []
    while True:
        yield sleep(delay)
        try:
            m = yield q.get(timeout=0.3)
        except Timeout:
            print name, 'get timeout'
            break
        if m is None:
            break
        print name, 'heard', m, 'left', len(q)
    print name, 'done'
tm = TaskManager()
tm.add(hub())
tm.add(client('fast', 0.001, ['a1', 'a2']))
tm.add(client('slow', 0.05, ['b1']))
tm.add(client('mute', 0.001, []))
passes(tm)
