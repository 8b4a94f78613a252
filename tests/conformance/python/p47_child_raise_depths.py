from h import *
class AppError(Exception): pass
q = Queue()
def leaf(kind):
    yield
    if kind == 'value':
        raise ValueError('bad value')
    if kind == 'app':
        raise AppError('app failed')
    if kind == 'timeout':
        yield q.get(timeout=0.01)
    if kind == 'sleep':
        yield sleep(0.01)
        raise AppError('after sleep')
    raise StopIteration('leaf ok ' + kind)
def middle(kind, catch):
    print 'middle start', kind
    try:
        r = yield leaf(kind)
        print 'middle got', r
    except AppError, e:
        if not catch:
            raise
        print 'middle caught AppError', e
        r = 'recovered'
    raise StopIteration(r)
def top(kind, catch):
    try:
        r = yield middle(kind, catch)
        print 'top got', r
    except Timeout:
        print 'top caught Timeout', kind
    except Exception, e:
        print 'top caught', type(e).__name__, e
def spawner():
    for kind, catch in [('ok', False), ('value', True), ('app', True), ('app', False), ('timeout', False), ('sleep', True), ('sleep', False)]:
        yield top(kind, catch)
        print 'spawner next'
    r = yield middle('value', True)
    print 'never', r
tm = TaskManager()
tm.add(spawner())
tm.add(top('app', False))
passes(tm)
