from h import *
jobs = Queue(maxsize=3)
out = Queue()
def dispatcher(n, workers):
    for i in range(n):
        yield jobs.put(i)
        print 'dispatched', i, 'len', len(jobs)
    for w in range(workers):
        yield jobs.put(None)
    print 'dispatcher done'
def worker(name, slow):
    count = 0
    while True:
        try:
            job = yield jobs.get(timeout=0.5)
        except Timeout:
            print name, 'timeout'
            break
        if job is None:
            print name, 'sentinel after', count
            break
        count += 1
        if slow:
            yield sleep(0.01)
        else:
            yield
        yield out.put((name, job))
    yield out.put((name, None))
def gatherer(workers):
    finished = 0
    while finished < workers:
        name, job = yield out.get()
        if job is None:
            finished += 1
        else:
            print 'result', name, job
    print 'all finished'
tm = TaskManager()
tm.add(gatherer(3))
tm.add(worker('w1', False))
tm.add(worker('w2', True))
tm.add(worker('w3', False))
tm.add(dispatcher(8, 3))
passes(tm)
