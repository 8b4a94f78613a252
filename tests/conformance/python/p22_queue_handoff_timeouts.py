from h import *
q = Queue()
def g(name, t):
    try:
        x = yield q.get(timeout=t)
        print name, 'got', x
    except Timeout:
        print name, 'timeout'
def p():
    yield sleep(0.05)
    for i in range(3):
        yield q.put(i)
        print 'put', i
tm = TaskManager()
tm.add(g('g_long1', 1.0))
tm.add(g('g_short', 0.01))
tm.add(g('g_long2', 1.0))
tm.add(g('g_none', None))
tm.add(p())
tm.run()
print 'len', len(q), 'timeouts', tm.has_timeouts()
