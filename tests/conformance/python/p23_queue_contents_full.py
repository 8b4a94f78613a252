from h import *
q = Queue([1, 2, 3], maxsize=2)
print 'len', len(q), 'full', q.full(), 'empty', q.empty()
def putter():
    print 'putter put 4'
    yield q.put(4)
    print 'putter done 4'
    try:
        yield q.put(5, timeout=0)
        print 'putter done 5'
    except Timeout:
        print 'putter 5 timeout'
def getter():
    for i in range(4):
        x = yield q.get()
        print 'got', x, 'len', len(q)
tm = TaskManager()
tm.add(putter())
tm.add(getter())
passes(tm)
print 'len', len(q)
