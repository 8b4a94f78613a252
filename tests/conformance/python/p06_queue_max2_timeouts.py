from h import *
q = Queue(maxsize=2)
def putter():
    for i in range(4):
        try:
            yield q.put(i, timeout=0.05)
            print 'put ok', i
        except Timeout:
            print 'put timeout', i
def late_getter():
    yield sleep(0.2)
    while not q.empty():
        x = yield q.get(timeout=0)
        print 'late got', x
    try:
        x = yield q.get(timeout=0)
        print 'late got?', x
    except Timeout:
        print 'late get timeout'
tm = TaskManager()
tm.add(putter())
tm.add(late_getter())
tm.run()
print 'end len', len(q)
