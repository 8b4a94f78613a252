from h import *
q = Queue()
def g1():
    try:
        x = yield q.get(timeout=0)
        print 'g1 got', x
    except Timeout:
        print 'g1 timeout'
def p_same_pass():
    yield q.put('a')
    print 'p put a'
def g2():
    try:
        x = yield q.get(timeout=0)
        print 'g2 got', x
    except Timeout:
        print 'g2 timeout'
def p_next_pass():
    yield
    yield q.put('b')
    print 'p put b'
def g3():
    yield
    yield
    yield
    try:
        x = yield q.get(timeout=0)
        print 'g3 got', x
    except Timeout:
        print 'g3 timeout'
tm = TaskManager()
tm.add(g1())
tm.add(p_same_pass())
passes(tm)
print '---'
tm.add(g2())
tm.add(p_next_pass())
passes(tm)
print '---', len(q)
tm.add(g3())
passes(tm)
print 'len', len(q)
