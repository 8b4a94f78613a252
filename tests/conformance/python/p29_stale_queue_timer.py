from h import *
q = Queue()
q2 = Queue(maxsize=1)
def getter():
    x = yield q.get(timeout=0.03)
    print 'getter got', x, 'timeouts', tm.has_timeouts()
    yield sleep(0.08)
    print 'getter woke'
def putter():
    yield q.put('now')
    print 'putter put'
    yield q2.put(1)
    try:
        yield q2.put(2, timeout=0.02)
        print 'put 2 ok'
    except Timeout:
        print 'put 2 timeout?'
    yield sleep(0.06)
    print 'putter woke'
def taker():
    x = yield q2.get()
    print 'taker got', x
    x = yield q2.get()
    print 'taker got', x
def mid():
    yield sleep(0.045)
    print 'mid 0.045'
tm = TaskManager()
tm.add(getter())
tm.add(putter())
tm.add(taker())
tm.add(mid())
tm.run()
print 'end timeouts', tm.has_timeouts()
