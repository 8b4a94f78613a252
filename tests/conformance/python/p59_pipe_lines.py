from h import *
import os
r1, w1 = os.pipe()
r2, w2 = os.pipe()
def upper_filter():
    buf = ''
    while True:
        data = yield read(r1, 5)
        if not data:
            break
        buf += data
        while '\n' in buf:
            line, buf = buf.split('\n', 1)
            n = yield write(w2, line.upper() + '\n')
            print 'filter wrote', n
    os.close(w2)
    print 'filter eof'
def source():
    for chunk in ['ab\ncd', 'ef\n', 'g\nhij\n']:
        n = yield write(w1, chunk)
        print 'source wrote', n
        yield
    os.close(w1)
    print 'source closed'
def sink():
    got = ''
    while True:
        data = yield read(r2, 100)
        if not data:
            break
        got += data
        print 'sink got', repr(data)
    print 'sink total', repr(got)
tm = TaskManager()
tm.add(sink())
tm.add(upper_filter())
tm.add(source())
passes(tm)
os.close(r1); os.close(r2)
