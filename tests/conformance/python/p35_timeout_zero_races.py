from h import *
q = Queue(['full'], maxsize=1)
def putter():
    try:
        yield q.put('p', timeout=0)
        print 'putter ok'
    except Timeout:
        print 'putter timeout'
def getter():
    x = yield q.get()
    print 'getter got', x
def child():
    q2 = Queue()
    yield q2.get(timeout=0)
    print 'child not reached'
def parent():
    try:
        yield child()
    except Timeout:
        print 'parent caught Timeout from child'
def t(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(putter())
tm.add(getter())
tm.add(parent())
tm.add(t(5))
passes(tm)
print 'len', len(q), 'timeouts', tm.has_timeouts()
