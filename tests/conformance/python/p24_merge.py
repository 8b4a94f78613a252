from h import *
q = Queue()
def t(name, n):
    for i in range(n):
        print name, i
        yield
def g():
    x = yield q.get()
    print 'g got', x
def p():
    yield q.put('m')
    print 'p put'
tm1 = TaskManager()
tm2 = TaskManager()
tm1.add(t('a', 2))
tm2.add(g())
tm1.add(p())
tm2.add(t('b', 2))
tm1.run_next()
print '|'
tm1.merge(tm2)
passes(tm2)
