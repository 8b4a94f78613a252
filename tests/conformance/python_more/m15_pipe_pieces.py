# A pipe written in pieces (yield write, then a sleep) and closed; the reader
# reads fixed-size chunks with yield read and sees EOF; a second pipe carries
# whole lines read back with readline on an unbuffered file object.
from h import *
import os
r, w = os.pipe()
r2, w2 = os.pipe()
f2 = os.fdopen(r2, 'r', 0)
def writer():
    for piece in ['ab', 'cdefg', 'h']:
        n = yield write(w, piece)
        print 'writer wrote', n
        yield sleep(0.05)
        print 'writer slept'
    os.close(w)
    print 'writer closed'
def reader():
    while True:
        data = yield read(r, 3)
        print 'reader got', repr(data)
        if not data:
            break
    os.close(r)
def liner():
    n = yield write(w2, 'one\ntwo\n')
    print 'liner wrote', n
    for i in range(2):
        line = yield readline(f2)
        print 'liner got', repr(line)
    n = yield write(w2, 'three\n')
    os.close(w2)
    for i in range(2):
        line = yield readline(f2)
        print 'liner got', repr(line)
    f2.close()
tm = TaskManager()
tm.add(writer())
tm.add(reader())
tm.add(liner())
passes(tm)
