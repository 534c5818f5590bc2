"""python -m ohgw.forkserver TRIAL_MODULE MESSAGE_FD (see ohgw.forkserver.server)."""
import sys

from ohgw.forkserver.server import main

main(sys.argv[1:])
