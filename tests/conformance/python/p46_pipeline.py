from h import *
q1 = Queue(maxsize=2)
q2 = Queue(maxsize=1)
def producer():
    for i in range(5):
        try:
            yield q1.put(i, timeout=0.05)
            print 'produced', i, 'len', len(q1)
        except Timeout:
            print 'produce timeout', i
    yield q1.put(None)
    print 'producer sent sentinel'
def doubler():
    while True:
        item = yield q1.get()
        if item is None:
            yield q2.put(None)
            print 'doubler done'
            break
        print 'doubler got', item
        if item == 2:
            yield sleep(0.1)
        yield q2.put(item * 2)
def consumer():
    total = 0
    while True:
        try:
            item = yield q2.get(timeout=0.07)
        except Timeout:
            print 'consumer idle'
            continue
        if item is None:
            break
        total += item
        print 'consumer got', item, 'total', total
    print 'consumer done', total
tm = TaskManager()
tm.add(consumer())
tm.add(doubler())
tm.add(producer())
passes(tm)
