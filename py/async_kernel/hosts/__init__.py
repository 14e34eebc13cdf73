"""Hosts set up the process a kernel runs in, then start it: :mod:`.native` (a process of its own, ZMQ) and
:mod:`.pyodide` (a Web Worker's interpreter, a JavaScript callback).

A host owns what is process-wide: ``sys.stdout``/``sys.stderr``, signals, the environment and working
directory, logging, the IPython profile, threads and shutdown. The kernel core and the transports touch none
of it.
"""
