from h import *
token = Queue(['t'])
results = Queue()
done = []
def worker(i):
    for k in range(i % 3):
        yield
    t = yield token.get()
    yield results.put(i)
    yield token.put(t)
    if i % 7 == 0:
        yield child(i)
    done.append(i)
def child(i):
    yield
    raise StopIteration(i)
def collector(n):
    got = []
    while len(got) < n:
        got.append((yield results.get()))
    print 'collector order', got
tm = TaskManager()
tm.add(collector(60))
for i in range(60):
    tm.add(worker(i))
npass = 0
while tm.has_runnable() or tm.has_io_waits() or tm.has_timeouts():
    tm.run_next()
    npass += 1
print 'passes', npass
print 'done order', done
