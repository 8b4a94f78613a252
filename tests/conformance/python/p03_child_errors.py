from h import *
def ticker(n):
    for i in range(n):
        print 'tick', i
        yield
def bad_early():
    raise RuntimeError('early')
    yield
def bad_late():
    yield
    raise RuntimeError('late')
def middle():
    print 'middle start'
    yield bad_late()
    print 'middle not reached'
def returns_early():
    raise StopIteration(42)
    yield
def returns_none():
    if False:
        yield
def parent():
    try:
        yield bad_early()
    except Exception, e:
        print 'caught', e
    try:
        yield middle()
    except Exception, e:
        print 'caught', e
    v = yield returns_early()
    print 'early ret', v
    v = yield returns_none()
    print 'none ret', v
    x = yield 7
    print 'value', x
tm = TaskManager()
tm.add(ticker(14))
tm.add(parent())
passes(tm)
