from h import *
def inner():
    x = yield 7
    print 'inner got own value', x
    yield
    raise StopIteration('in')
def failing():
    yield
    raise RuntimeError('f')
def middle():
    v = yield inner()
    print 'middle got', v
    try:
        yield failing()
    except RuntimeError, e:
        print 'middle caught', e
    raise StopIteration(v, 'mid')
def instant():
    raise StopIteration(5)
    yield
def parent():
    v = yield middle()
    print 'parent got', v
    w = yield instant()
    print 'parent instant', w
    x = yield 'back'
    print 'parent value', x
tm = TaskManager()
tm.add(parent())
def t(n):
    for i in range(n):
        print 'tick', i
        yield
tm.add(t(16))
passes(tm)
